"""Status history: one row per transition, for job details and audits."""

from __future__ import annotations

from collections.abc import Sequence

from jobledger.domain import events as ev
from jobledger.domain.history import next_attempt, status_change
from jobledger.domain.lifecycle import JobStatus
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned
from jobledger.projections.schema import STATUS_HISTORY, STATUS_HISTORY_JOBS, Table

# Events that can move a job or ask it to stop; progress, usage, steps and heartbeats cannot.
TRANSITION_EVENTS = tuple(
    t
    for t in ev.EVENT_TYPES
    if t not in (ev.ProgressReported, ev.UsageRecorded, ev.StepsAppended, ev.HeartbeatRecorded)
)


class StatusHistoryProjection(BatchProjection):
    name = "status_history"
    tables = (STATUS_HISTORY, STATUS_HISTORY_JOBS)
    handles = TRANSITION_EVENTS

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {STATUS_HISTORY_JOBS: {(p.job_id,) for p in events}}

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        event = positioned.event
        job_id = positioned.job_id
        known = batch.get(STATUS_HISTORY_JOBS, (job_id,))
        before = None if known is None else JobStatus(known["status"])
        if before is None and not isinstance(event, ev.JobSubmitted):
            return  # a history without its submission
        attempt = 1 if known is None else int(known["attempt"])
        change = status_change(event, before, attempt)
        if change is None:
            return
        batch.put(
            STATUS_HISTORY,
            {
                "job_id": job_id,
                "version": change.version,
                "tenant": event.tenant,
                "from_status": change.from_status,
                "to_status": change.to_status,
                "trigger": change.trigger,
                "event": change.event,
                "at": change.at,
                "attempt": change.attempt,
                "actor": change.actor,
                "reason": change.reason,
                "position": positioned.position,
            },
        )
        batch.put(
            STATUS_HISTORY_JOBS,
            {
                "job_id": job_id,
                "status": change.to_status,
                "attempt": next_attempt(event, change.attempt),
            },
        )
