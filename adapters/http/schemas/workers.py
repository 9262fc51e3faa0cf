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

from jobledger.adapters.http.schemas.jobs import ApiModel, InputOut, Storable
from jobledger.domain.bounds import (
    DEFAULT_LEASE_SECONDS,
    FINDING_KINDS,
    Count,
    ErrorCode,
    LeaseId,
    LeaseSeconds,
    Message,
    Name,
    Percent,
    Pool,
    Reason,
)
from jobledger.domain.ledger import JobState
from jobledger.domain.results import JobType

CommandId = Annotated[
    StrictStr,
    Field(
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="picked by the worker, unique per command: a retry with the same id "
        "and body gets the first answer and records nothing new",
    ),
]


class ClaimJob(ApiModel):
    agent: Name = Field(description="the worker's name, recorded on the claim")
    pool: Pool | None = Field(
        default=None,
        description="the agent's pool: it may take that pool's jobs, and any "
        "job submitted without a pool",
    )
    types: Annotated[list[JobType], Field(max_length=20)] = Field(
        default=[], description="the job types it handles; empty: any"
    )
    lease_seconds: LeaseSeconds = DEFAULT_LEASE_SECONDS
    wait_seconds: Annotated[StrictInt, Field(ge=0, le=60)] = Field(
        default=0, description="with nothing to claim, hold the request up to this long"
    )
    command_id: CommandId | None = Field(
        default=None,
        description="a repeat with the same id gets the first claim back (a lost answer "
        "does not strand a job)",
    )


class LeasedCommand(ApiModel):
    lease_id: LeaseId
    command_id: CommandId


class Heartbeat(LeasedCommand):
    lease_seconds: LeaseSeconds | None = Field(
        default=None, description="renew by this long; by default, as long as it was granted"
    )


class Progress(LeasedCommand):
    percent: Percent
    message: Message | None = None


class Usage(LeasedCommand):
    model: Name
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_input_tokens: Count = 0


class PreliminaryFindings(LeasedCommand):
    """One optional count per finding kind (``FINDING_KINDS``; a test holds them equal)."""

    entities: Count | None = None
    relationships: Count | None = None
    anomalies: Count | None = None
    predictions: Count | None = None

    def counts(self) -> dict[str, int]:
        given = {kind: getattr(self, kind) for kind in FINDING_KINDS}
        return {kind: count for kind, count in given.items() if count is not None}


class Complete(LeasedCommand):
    result: Storable = Field(description="the job type's result model, e.g. {entities: 3}")


class Fail(LeasedCommand):
    code: ErrorCode
    message: Message = ""
    retryable: StrictBool = False


class Release(LeasedCommand):
    reason: Reason = ""


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
