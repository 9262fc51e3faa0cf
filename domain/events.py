"""The facts the ledger records about a job, and how each one changes it.

Events are past tense and never change once written. ``apply`` only assigns and
adds: it never raises, so a history written under older rules still replays.
Every event records its actor (the authenticated subject), tenant and
correlation id; eventsourcing records ``timestamp`` (UTC).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate

from jobledger.domain.lifecycle import JobStatus, Trigger
from jobledger.domain.steps import StepUsage

if TYPE_CHECKING:
    from jobledger.domain.job import Job


class JobEvent(Aggregate.Event):
    actor: str
    tenant: str
    correlation_id: str

    trigger: ClassVar[Trigger]
    moves_to: ClassVar[JobStatus | None] = None

    def next_status(self, current: JobStatus) -> JobStatus:
        """The job's status after this event; read models use it as the Job does."""
        return current if self.moves_to is None else self.moves_to

    def apply(self, job: Job) -> None:
        """Subclasses evolve the job; the base changes nothing."""


def _charge_tokens(job: Job, usage: UsageRecorded | StepUsage) -> None:
    job.tokens = {
        "input": job.tokens.get("input", 0) + usage.input_tokens,
        "output": job.tokens.get("output", 0) + usage.output_tokens,
        "cached_input": job.tokens.get("cached_input", 0) + usage.cached_input_tokens,
    }
    if usage.cost is None:
        job.unpriced_usage = True
    else:
        job.cost = job.cost + usage.cost


def _drop_lease(job: Job) -> None:
    job.agent = None
    job.agent_pool = None
    job.lease_id = None
    job.lease_expires_at = None


def _renew(job: Job, until: datetime | None) -> None:
    """Any worker command renews the lease; histories from before that rule carry None."""
    if until is not None:
        job.lease_expires_at = until


def _requeue(job: Job, failed_attempt: int) -> None:
    """Back to the queue for the next attempt, with nothing of the last one's progress."""
    job.status_value = JobStatus.QUEUED.value
    job.attempt = failed_attempt + 1
    job.progress = 0
    job.progress_message = None
    job.preliminary_findings = {}
    _drop_lease(job)


def _finish(job: Job, event: JobEvent) -> None:
    job.status_value = event.next_status(job.status).value
    job.finished_at = event.timestamp
    _drop_lease(job)


class JobSubmitted(JobEvent, Aggregate.Created):
    trigger = Trigger.SUBMIT
    moves_to = JobStatus.QUEUED

    job_type: str
    investigation_id: str | None
    priority: int
    max_attempts: int
    pool: str | None
    inputs: list[dict[str, Any]]
    config: dict[str, Any]
    metadata: dict[str, Any]

    def apply(self, job: Job) -> None:
        job.tenant = self.tenant
        job.created_by = self.actor
        job.workflow = self.correlation_id
        job.job_type = self.job_type
        job.investigation_id = self.investigation_id
        job.priority = self.priority
        job.max_attempts = self.max_attempts
        job.pool = self.pool
        job.inputs = list(self.inputs)
        job.config = dict(self.config)
        job.metadata = dict(self.metadata)
        job.status_value = self.next_status(job.status).value


class JobClaimed(JobEvent):
    trigger = Trigger.CLAIM
    moves_to = JobStatus.CLAIMED

    agent: str
    pool: str | None
    lease_id: str
    lease_expires_at: datetime
    attempt: int

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        job.agent = self.agent
        job.agent_pool = self.pool
        job.lease_id = self.lease_id
        job.lease_expires_at = self.lease_expires_at
        job.lease_seconds = (self.lease_expires_at - self.timestamp).total_seconds()
        job.claimed_at = self.timestamp
        job.not_before = None


class JobReleased(JobEvent):
    trigger = Trigger.RELEASE
    moves_to = JobStatus.QUEUED

    reason: str

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        _drop_lease(job)


class JobStarted(JobEvent):
    """Version 2 always names the renewed lease deadline (None: the lease stood); version
    1, written before starting renewed the lease, has no such field."""

    class_version = 2  # eventsourcing upcasts older stored versions on reading
    trigger = Trigger.START
    moves_to = JobStatus.RUNNING

    lease_expires_at: datetime | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.setdefault("lease_expires_at", None)

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        job.started_at = self.timestamp
        _renew(job, self.lease_expires_at)


class ProgressReported(JobEvent):
    trigger = Trigger.REPORT_PROGRESS

    percent: int
    message: str | None
    findings: dict[str, int]
    lease_expires_at: datetime | None = None

    def apply(self, job: Job) -> None:
        _renew(job, self.lease_expires_at)
        job.progress = max(job.progress, self.percent)
        if self.message is not None:
            job.progress_message = self.message
        if self.findings:
            job.preliminary_findings = {**job.preliminary_findings, **self.findings}


class UsageRecorded(JobEvent):
    """Tokens used, and the cost as priced when it was recorded (None: unpriced)."""

    trigger = Trigger.RECORD_USAGE

    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    attempt: int
    cost: Decimal | None
    currency: str
    price_book_version: str
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    cached_input_per_million: Decimal | None
    lease_expires_at: datetime | None = None

    def apply(self, job: Job) -> None:
        _charge_tokens(job, self)
        _renew(job, self.lease_expires_at)


class StepsAppended(JobEvent):
    """A batch of an agent's steps, numbered from ``first_step`` in the job; each step's
    usage is priced as it was when recorded (see ``domain/steps.py``)."""

    trigger = Trigger.APPEND_STEPS

    first_step: int
    attempt: int
    steps: list[dict[str, Any]]
    lease_expires_at: datetime | None = None

    def usages(self) -> list[tuple[int, dict[str, Any], StepUsage]]:
        """(step number, step, usage) of each priced step, in order."""
        found = []
        for number, step in enumerate(self.steps, start=self.first_step):
            usage = StepUsage.of(step)
            if usage is not None:
                found.append((number, step, usage))
        return found

    def apply(self, job: Job) -> None:
        job.steps_recorded = max(job.steps_recorded, self.first_step - 1 + len(self.steps))
        for _, _, usage in self.usages():
            _charge_tokens(job, usage)
        _renew(job, self.lease_expires_at)


class HeartbeatRecorded(JobEvent):
    trigger = Trigger.HEARTBEAT

    lease_expires_at: datetime

    def apply(self, job: Job) -> None:
        job.lease_expires_at = self.lease_expires_at
        job.lease_seconds = (self.lease_expires_at - self.timestamp).total_seconds()


class ValidationStarted(JobEvent):
    trigger = Trigger.BEGIN_VALIDATION
    moves_to = JobStatus.VALIDATING

    lease_expires_at: datetime | None = None

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        _renew(job, self.lease_expires_at)


class UploadStarted(JobEvent):
    trigger = Trigger.BEGIN_UPLOAD
    moves_to = JobStatus.UPLOADING

    lease_expires_at: datetime | None = None

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        _renew(job, self.lease_expires_at)


class JobCompleted(JobEvent):
    trigger = Trigger.COMPLETE
    moves_to = JobStatus.COMPLETED

    result: dict[str, Any]

    def apply(self, job: Job) -> None:
        _finish(job, self)
        job.progress = 100
        job.result = dict(self.result)


class AttemptFailed(JobEvent):
    """A retryable failure with attempts left: the job queues for its next attempt,
    claimable from ``not_before`` (the back-off; None in histories from before it)."""

    trigger = Trigger.FAIL
    moves_to = JobStatus.QUEUED

    code: str
    message: str
    attempt: int
    not_before: datetime | None = None

    def apply(self, job: Job) -> None:
        job.error = {"code": self.code, "message": self.message, "attempt": self.attempt}
        _requeue(job, self.attempt)
        job.not_before = self.not_before


class JobFailed(JobEvent):
    trigger = Trigger.FAIL
    moves_to = JobStatus.FAILED

    code: str
    message: str
    retryable: bool
    attempt: int

    def apply(self, job: Job) -> None:
        _finish(job, self)
        job.error = {"code": self.code, "message": self.message, "attempt": self.attempt}


class LeaseExpired(JobEvent):
    """Recorded by the lease sweeper; ``outcome`` names where the job went."""

    trigger = Trigger.EXPIRE_LEASE

    OUTCOMES: ClassVar[dict[str, JobStatus]] = {
        "requeued": JobStatus.QUEUED,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    }

    lease_id: str
    agent: str
    attempt: int
    outcome: str

    def next_status(self, current: JobStatus) -> JobStatus:
        return self.OUTCOMES.get(self.outcome, JobStatus.QUEUED)

    def apply(self, job: Job) -> None:
        status = self.next_status(job.status)
        if status is JobStatus.QUEUED:
            _requeue(job, self.attempt)
        else:
            _finish(job, self)
        if status is JobStatus.FAILED:
            job.error = {
                "code": "lease_expired",
                "message": f"lease of {self.agent} expired on the last attempt",
                "attempt": self.attempt,
            }


class JobCancelled(JobEvent):
    """An immediate cancellation of a job nobody is working on yet."""

    trigger = Trigger.CANCEL
    moves_to = JobStatus.CANCELLED

    reason: str

    def apply(self, job: Job) -> None:
        _finish(job, self)
        job.cancellation_reason = self.reason


class CancellationRequested(JobEvent):
    """The first step of cancelling active work: the worker is asked to stop."""

    trigger = Trigger.CANCEL

    reason: str

    def apply(self, job: Job) -> None:
        job.cancellation_requested = True
        job.cancellation_reason = self.reason


class CancellationAcknowledged(JobEvent):
    trigger = Trigger.ACKNOWLEDGE_CANCELLATION
    moves_to = JobStatus.CANCELLED

    def apply(self, job: Job) -> None:
        _finish(job, self)


# The task events extend these classes; the package imports this module first (__init__.py).
from jobledger.domain.task_events import TASK_EVENT_TYPES  # noqa: E402

# Worker commands that renew the lease to their ``lease_expires_at`` (heartbeats too).
RENEWING = (
    JobStarted,
    ProgressReported,
    UsageRecorded,
    StepsAppended,
    ValidationStarted,
    UploadStarted,
)

EVENT_TYPES: tuple[type[JobEvent], ...] = (
    JobSubmitted,
    JobClaimed,
    JobReleased,
    JobStarted,
    ProgressReported,
    UsageRecorded,
    StepsAppended,
    HeartbeatRecorded,
    ValidationStarted,
    UploadStarted,
    JobCompleted,
    AttemptFailed,
    JobFailed,
    LeaseExpired,
    JobCancelled,
    CancellationRequested,
    CancellationAcknowledged,
    *TASK_EVENT_TYPES,
)
