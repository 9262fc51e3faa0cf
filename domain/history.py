"""A job's status history: the transitions its events made, in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jobledger.domain import events as ev
from jobledger.domain.lifecycle import JobStatus


@dataclass(frozen=True)
class StatusChange:
    """One transition: the job moved, or (cancellation requested) was asked to."""

    version: int
    trigger: str
    event: str
    from_status: str | None
    to_status: str
    at: datetime
    attempt: int  # the attempt the event belongs to: a failure's, not the next one's
    actor: str
    reason: str | None


def _reason(event: ev.JobEvent) -> str | None:
    if isinstance(event, ev.JobReleased | ev.JobCancelled | ev.CancellationRequested):
        return event.reason
    if isinstance(event, ev.AttemptFailed | ev.JobFailed):
        return f"{event.code}: {event.message}" if event.message else event.code
    if isinstance(event, ev.LeaseExpired):
        return f"lease of {event.agent} expired: {event.outcome}"
    return None


def attempt_of(event: ev.JobEvent, current: int) -> int:
    """The attempt an event belongs to: its own record where it has one."""
    recorded = getattr(event, "attempt", None)
    return recorded if isinstance(recorded, int) else current


def next_attempt(event: ev.JobEvent, current: int) -> int:
    """The attempt in effect after the event: one more after a requeue."""
    attempt = attempt_of(event, current)
    requeued = isinstance(event, ev.AttemptFailed) or (
        isinstance(event, ev.LeaseExpired) and event.outcome == "requeued"
    )
    return attempt + 1 if requeued else attempt


def status_change(
    event: ev.JobEvent, before: JobStatus | None, attempt: int = 1
) -> StatusChange | None:
    """The transition an event makes from ``before`` (None: the job is new) during
    ``attempt``, if any."""
    after = event.next_status(before or JobStatus.QUEUED)
    if before == after and not isinstance(event, ev.CancellationRequested):
        return None
    return StatusChange(
        version=event.originator_version,
        trigger=event.trigger.value,
        event=type(event).__name__,
        from_status=None if before is None else before.value,
        to_status=after.value,
        at=event.timestamp,
        attempt=attempt_of(event, attempt),
        actor=event.actor,
        reason=_reason(event),
    )


def status_history(events: Iterable[ev.JobEvent]) -> list[StatusChange]:
    changes: list[StatusChange] = []
    status: JobStatus | None = None
    attempt = 1
    for event in events:
        change = status_change(event, status, attempt)
        if change is not None:
            changes.append(change)
            status = JobStatus(change.to_status)
        attempt = next_attempt(event, attempt)
    return changes
