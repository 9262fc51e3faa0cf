"""A job's status history, folded from its events by applying them in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jobledger.domain import events as ev
from jobledger.domain.job import Job


@dataclass(frozen=True)
class StatusChange:
    """One transition: the job moved, or (cancellation requested) was asked to."""

    version: int
    trigger: str
    event: str
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None


def _reason(event: ev.JobEvent) -> str | None:
    if isinstance(event, ev.JobReleased | ev.JobCancelled | ev.CancellationRequested):
        return event.reason
    if isinstance(event, ev.AttemptFailed | ev.JobFailed):
        return f"{event.code}: {event.message}"
    if isinstance(event, ev.LeaseExpired):
        return f"lease of {event.agent} expired: {event.outcome}"
    return None


def status_history(events: Iterable[ev.JobEvent]) -> list[StatusChange]:
    changes: list[StatusChange] = []
    job: Job | None = None
    for event in events:
        before = job.status_value if job is not None else None
        job = event.mutate(job)
        assert job is not None
        if before != job.status_value or isinstance(event, ev.CancellationRequested):
            changes.append(
                StatusChange(
                    version=event.originator_version,
                    trigger=event.trigger.value,
                    event=type(event).__name__,
                    from_status=before,
                    to_status=job.status_value,
                    at=event.timestamp,
                    actor=event.actor,
                    reason=_reason(event),
                )
            )
    return changes
