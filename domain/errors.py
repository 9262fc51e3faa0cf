"""One hierarchy for every error jobledger reports.

Adapters map these once: the CLI to one line and an exit code, the HTTP API (a
later issue) to a status; ``code`` names the error for machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID


class JobLedgerError(Exception):
    """Base of every error a user of jobledger can see."""

    code = "jobledger_error"


class JobNotFound(JobLedgerError):
    code = "job_not_found"

    def __init__(self, job_id: UUID | str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class InvalidCommand(JobLedgerError):
    """The command's payload breaks a rule; nothing was recorded."""

    code = "invalid_command"


class TooLarge(InvalidCommand):
    """A part of the command is bigger than its bound allows; nothing was recorded."""

    code = "too_large"


class UnknownJobType(InvalidCommand):
    code = "unknown_job_type"

    def __init__(self, job_type: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown job type {job_type!r}; known types: {', '.join(known)}")
        self.job_type = job_type


class InvalidResult(InvalidCommand):
    code = "invalid_result"


class IllegalTransition(JobLedgerError):
    """The lifecycle table does not allow this trigger in the job's current state."""

    code = "illegal_transition"

    def __init__(
        self, job_id: UUID, current_state: str, trigger: str, allowed: Sequence[str]
    ) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the job is finished)"
        super().__init__(
            f"job {job_id} is {current_state}: {trigger} is not allowed; "
            f"allowed now: {allowed_text}"
        )
        self.job_id = job_id
        self.current_state = current_state
        self.trigger = trigger
        self.allowed = tuple(allowed)


class LeaseMismatch(JobLedgerError):
    """A worker command carried a lease id that is not the job's current lease."""

    code = "lease_mismatch"

    def __init__(
        self,
        job_id: UUID,
        given: str,
        current: str | None,
        status: str = "",
        lease_expires_at: datetime | None = None,
    ) -> None:
        held = "no lease is held" if current is None else "another lease holds it"
        state = f"; the job is {status}" if status else ""
        super().__init__(f"job {job_id}: lease {given!r} is not current ({held}{state})")
        self.job_id = job_id
        self.lease_state = "none" if current is None else "held"
        self.current_state = status
        self.lease_expires_at = lease_expires_at


class RetryNotDue(JobLedgerError):
    """The job waits out a retry back-off and may not be claimed before it ends."""

    code = "retry_not_due"

    def __init__(self, job_id: UUID, not_before: datetime) -> None:
        super().__init__(f"job {job_id} waits for its retry until {not_before.isoformat()}")
        self.job_id = job_id
        self.not_before = not_before


class ConcurrencyConflict(JobLedgerError):
    """Someone else changed the job first; reload and decide again."""

    code = "concurrency_conflict"

    def __init__(self, job_id: UUID, expected: int | None, actual: int | None) -> None:
        if expected is not None and actual is not None:
            detail = f"expected version {expected}, found {actual}"
        else:
            detail = "another writer appended first"
        super().__init__(f"job {job_id} changed concurrently: {detail}")
        self.job_id = job_id
        self.expected = expected
        self.actual = actual


class IdempotencyConflict(JobLedgerError):
    """A command id was reused for a different command."""

    code = "idempotency_conflict"

    def __init__(self, command_id: str) -> None:
        super().__init__(f"command id {command_id!r} was already used for a different command")
        self.command_id = command_id


class ConfigurationError(JobLedgerError):
    """Settings, a database URL or a price book cannot be used."""

    code = "configuration_error"


class StoreUnavailable(JobLedgerError):
    """The event store cannot be opened or written."""

    code = "store_unavailable"


class TaskNotFound(JobNotFound):
    code = "task_not_found"

    def __init__(self, job_id: UUID | str, task_id: str) -> None:
        super().__init__(job_id)
        self.args = (f"task {task_id} of job {job_id} not found",)
        self.task_id = task_id


class NotNamedWorker(JobLedgerError):
    """Only the worker a task is named for may claim or update it (HTTP 403)."""

    code = "not_named_worker"
