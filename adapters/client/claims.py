"""Who claims (``Agent``) and what a claim holds (``Task``), for both flavours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobledger.adapters.client.core import Call, Json, claim_call, command_call
from jobledger.adapters.client.errors import ApiError, LeaseLost
from jobledger.domain.lifecycle import TERMINAL, JobStatus


@dataclass(frozen=True)
class Agent:
    """Who claims: the agent's name, its pool, the job types it runs, its lease length."""

    name: str
    pool: str | None = None
    types: tuple[str, ...] = ()
    lease_seconds: float = 60.0

    def claim_call(self, wait_seconds: int) -> Call:
        return claim_call(self.name, self.pool, self.types, self.lease_seconds, wait_seconds)

    @property
    def heartbeat_every(self) -> float:
        return self.lease_seconds / 3


@dataclass
class Task:
    """A claimed job: what it needs, the workflow it belongs to, and where it stands
    after the latest answer."""

    job_id: str
    lease_id: str
    job_type: str
    attempt: int
    inputs: list[Json]
    config: Json
    lease_expires_at: datetime | None
    correlation_id: str | None = None  # sent with every command: the job's workflow
    cancellation_requested: bool = False
    status: str = JobStatus.CLAIMED.value
    lease_lost: bool = False

    @classmethod
    def of(cls, claimed: Json) -> Task:
        return cls(
            job_id=claimed["jobId"],
            lease_id=claimed["leaseId"],
            job_type=claimed["type"],
            attempt=claimed["attempt"],
            inputs=claimed["inputs"],
            config=claimed["config"],
            lease_expires_at=_time(claimed["leaseExpiresAt"]),
            correlation_id=claimed.get("correlationId"),
        )

    @property
    def ended(self) -> bool:
        return self.lease_lost or self.status in TERMINAL or self.status == JobStatus.QUEUED

    def call(self, action: str, **fields: Any) -> Call:
        """The worker command ``action`` under this lease, in the job's workflow."""
        return command_call(self.job_id, action, self.lease_id, self.correlation_id, **fields)

    def take(self, answer: Json) -> Json:
        self.status = answer["status"]
        self.lease_expires_at = _time(answer["leaseExpiresAt"])
        self.cancellation_requested = answer["cancellationRequested"]
        return answer

    def refused(self, error: ApiError) -> ApiError:
        """A refusal, as ``LeaseLost`` when it means this lease no longer holds the job
        (another lease does, or the job is queued again or finished)."""
        moved_on = error.status == 409 and error.problem.get("currentState") in {
            *TERMINAL,
            JobStatus.QUEUED,
        }
        if isinstance(error, LeaseLost) or moved_on:
            self.lease_lost = True
            return error if isinstance(error, LeaseLost) else LeaseLost(error.status, error.problem)
        return error

    def closing(self, kind: type[BaseException] | None, error: BaseException | None) -> Call | None:
        """What to tell the server when a worker's block ends without an outcome: an
        asked-for cancel is acknowledged, an unstarted job released, else the attempt
        fails as retryable. Nothing is left to wait for its lease to run out."""
        if self.ended:
            return None
        started = self.status != JobStatus.CLAIMED
        if self.cancellation_requested and started:
            return self.call("cancellation-ack")
        if not started and kind is None:
            return self.call("release", reason="not started")
        message = "the worker ended without an outcome"
        if kind is not None:
            message = f"{kind.__name__}: {error}"[:4000]
        return self.call("fail", code="worker_error", message=message, retryable=True)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))
