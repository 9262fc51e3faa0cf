"""What workers send and get back: claims, and the commands that carry a lease.

Every command names the lease it acts under (``leaseId``, the fencing token) and
a ``commandId`` the worker picks, so a retry after a lost answer gets the first
answer and records nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StrictBool, StrictInt, StrictStr

from jobledger.adapters.http.schemas.jobs import ApiModel, InputOut, Storable, Text
from jobledger.domain.commands import MAX_LEASE_SECONDS
from jobledger.domain.ledger import JobState
from jobledger.domain.results import JobType

LeaseSeconds = Annotated[float, Field(gt=0, le=MAX_LEASE_SECONDS, allow_inf_nan=False)]
Count = Annotated[StrictInt, Field(ge=0, le=10**12)]
CommandId = Annotated[
    StrictStr,
    Field(
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="picked by the worker, unique per command: a retry with the same id "
        "and body gets the first answer and records nothing new",
    ),
]


class ClaimJob(ApiModel):
    agent: Text = Field(description="the worker's name, recorded on the claim")
    pool: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="the agent's pool: it may take that pool's jobs, and any "
        "job submitted without a pool",
    )
    types: Annotated[list[JobType], Field(max_length=20)] = Field(
        default=[], description="the job types it handles; empty: any"
    )
    lease_seconds: LeaseSeconds = 300
    wait_seconds: Annotated[StrictInt, Field(ge=0, le=60)] = Field(
        default=0, description="with nothing to claim, hold the request up to this long"
    )
    command_id: CommandId | None = Field(
        default=None,
        description="a repeat with the same id gets the first claim back (a lost answer "
        "does not strand a job)",
    )


class LeasedCommand(ApiModel):
    lease_id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    command_id: CommandId


class Heartbeat(LeasedCommand):
    lease_seconds: LeaseSeconds | None = Field(
        default=None, description="renew by this long; by default, as long as it was granted"
    )


class Progress(LeasedCommand):
    percent: Annotated[StrictInt, Field(ge=0, le=100)]
    message: Annotated[StrictStr, Field(max_length=4000)] | None = None


class Usage(LeasedCommand):
    model: Text
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_input_tokens: Count = 0


class PreliminaryFindings(LeasedCommand):
    entities: Count | None = None
    relationships: Count | None = None
    anomalies: Count | None = None
    predictions: Count | None = None

    def counts(self) -> dict[str, int]:
        kinds = ("entities", "relationships", "anomalies", "predictions")
        return {kind: getattr(self, kind) for kind in kinds if getattr(self, kind) is not None}


class Complete(LeasedCommand):
    result: Storable = Field(description="the job type's result model, e.g. {entities: 3}")


class Fail(LeasedCommand):
    code: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    message: Annotated[StrictStr, Field(max_length=4000)] = ""
    retryable: StrictBool = False


class Release(LeasedCommand):
    reason: Annotated[StrictStr, Field(max_length=2000)] = ""


class WorkerAnswer(ApiModel):
    """Where the job stands after a worker command."""

    job_id: UUID
    status: str
    version: int
    attempt: int
    max_attempts: int
    lease_expires_at: datetime | None = Field(description="the renewed deadline; null: no lease")
    cancellation_requested: bool = Field(description="true: stop and acknowledge")
    not_before: datetime | None = Field(description="a retry may be claimed from this time")

    @classmethod
    def of(cls, job_id: UUID, version: int, state: JobState) -> WorkerAnswer:
        return cls(
            job_id=job_id,
            status=state.status,
            version=version,
            attempt=state.attempt,
            max_attempts=state.max_attempts,
            lease_expires_at=state.lease_expires_at,
            cancellation_requested=state.cancellation_requested,
            not_before=state.not_before,
        )


class ClaimedJob(WorkerAnswer):
    """A job claimed for the caller: the lease, and what the job needs to run."""

    lease_id: str = Field(description="send with every command on this job")
    correlation_id: str = Field(
        description="the job's workflow (the correlation id it was submitted with): send "
        "it as X-Correlation-ID with every command on this job"
    )
    type: str
    priority: int
    pool: str | None
    investigation_id: str | None
    inputs: list[InputOut]
    config: dict[str, Any]
