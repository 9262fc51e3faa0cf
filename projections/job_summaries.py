"""Job summaries: one row per job, for envelopes, lists and dashboards.

Everything is derived from event times only (never the clock at projection
time), so a rebuild gives the same rows as incremental processing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from jobledger.domain import events as ev
from jobledger.domain.bounds import FINDING_KINDS
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.steps import StepUsage
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, Row
from jobledger.projections.schema import JOB_SUMMARIES, Table

CENT_FRACTION = Decimal("0.00000001")


def milliseconds(start: datetime | None, end: datetime) -> int | None:
    """Whole milliseconds between two times, in integer arithmetic (no float rounding)."""
    return None if start is None else (end - start) // timedelta(milliseconds=1)


def new_summary(event: ev.JobSubmitted) -> Row:
    return {
        "job_id": str(event.originator_id),
        "tenant": event.tenant,
        "investigation_id": event.investigation_id,
        "job_type": event.job_type,
        "status": "queued",
        "progress": 0,
        "attempt": 1,
        "max_attempts": event.max_attempts,
        "priority": event.priority,
        "created_by": event.actor,
        "agent": None,
        "lease_expires_at": None,
        "not_before": None,
        "pool": event.pool,
        "cancellation_requested": False,
        "created_at": event.timestamp,
        "claimed_at": None,
        "started_at": None,
        "attempt_started_at": None,
        "finished_at": None,
        "queue_wait_ms": None,
        "run_duration_ms": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_input_tokens": 0,
        "cost": Decimal(0),
        "unpriced_usage": False,
        "error_code": None,
        "error_message": None,
        "entities": 0,
        "relationships": 0,
        "anomalies": 0,
        "predictions": 0,
        "estimated_completion_at": None,
        "projected_cost": None,
        "last_event_at": event.timestamp,
        "version": event.originator_version,
        "position": 0,
    }


def _forecast(row: Row) -> None:
    """Estimate completion and total cost from this attempt's progress rate."""
    percent, started = row["progress"], row["attempt_started_at"]
    if row["status"] not in ("running", "validating", "uploading") or percent <= 0:
        row["estimated_completion_at"] = None
        row["projected_cost"] = None
        return
    if started is not None and percent < 100:
        elapsed = row["last_event_at"] - started
        row["estimated_completion_at"] = started + elapsed * (100 / percent)
    else:
        row["estimated_completion_at"] = None
    projected = row["cost"] * 100 / percent
    row["projected_cost"] = projected.quantize(CENT_FRACTION)


def _take_counts(row: Row, counts: dict[str, Any]) -> None:
    for kind in FINDING_KINDS:
        if kind in counts:
            row[kind] = int(counts[kind])


def _set_error(row: Row, code: str, message: str) -> None:
    row["error_code"] = code
    row["error_message"] = message


def _requeue(row: Row) -> None:
    """Back to the queue, as the Job goes: nothing of the last attempt's progress stays."""
    row["attempt"] += 1
    row["progress"] = 0
    row["agent"] = None
    row["lease_expires_at"] = None
    row["attempt_started_at"] = None
    for kind in FINDING_KINDS:
        row[kind] = 0


def _charge(row: Row, usage: ev.UsageRecorded | StepUsage) -> None:
    row["input_tokens"] += usage.input_tokens
    row["output_tokens"] += usage.output_tokens
    row["cached_input_tokens"] += usage.cached_input_tokens
    if usage.cost is None:
        row["unpriced_usage"] = True
    else:
        row["cost"] += usage.cost


def _claimed(row: Row, event: ev.JobClaimed) -> None:
    row["agent"] = event.agent
    row["lease_expires_at"] = event.lease_expires_at
    row["not_before"] = None
    if row["claimed_at"] is None:
        row["claimed_at"] = event.timestamp
        row["queue_wait_ms"] = milliseconds(row["created_at"], event.timestamp)


def _released(row: Row, event: ev.JobReleased) -> None:
    row["agent"] = None
    row["lease_expires_at"] = None


def _heartbeat(row: Row, event: ev.HeartbeatRecorded) -> None:
    row["lease_expires_at"] = event.lease_expires_at


def _started(row: Row, event: ev.JobStarted) -> None:
    row["attempt_started_at"] = event.timestamp
    if row["started_at"] is None:
        row["started_at"] = event.timestamp


def _progressed(row: Row, event: ev.ProgressReported) -> None:
    row["progress"] = max(row["progress"], event.percent)
    _take_counts(row, event.findings)


def _used(row: Row, event: ev.UsageRecorded) -> None:
    _charge(row, event)


def _stepped(row: Row, event: ev.StepsAppended) -> None:
    for _, _, usage in event.usages():
        _charge(row, usage)


def _completed(row: Row, event: ev.JobCompleted) -> None:
    row["progress"] = 100
    _take_counts(row, event.result)


def _attempt_failed(row: Row, event: ev.AttemptFailed) -> None:
    _set_error(row, event.code, event.message)
    _requeue(row)
    row["not_before"] = event.not_before


def _failed(row: Row, event: ev.JobFailed) -> None:
    _set_error(row, event.code, event.message)


def _lease_expired(row: Row, event: ev.LeaseExpired) -> None:
    if event.outcome == "failed":
        _set_error(row, "lease_expired", f"lease of {event.agent} expired on the last attempt")
    elif event.outcome == "requeued":
        _requeue(row)


def _cancellation_requested(row: Row, event: ev.CancellationRequested) -> None:
    row["cancellation_requested"] = True


def _nothing_more(row: Row, event: ev.JobEvent) -> None:
    """What every event changes (status, times, version) is all this one changes."""


# What each kind of event changes beyond that, found once per event class (through its
# bases, as ``isinstance`` would: a verdict is a completion or a failure).
_CHANGES: dict[type, Callable[[Row, Any], None]] = {
    ev.JobClaimed: _claimed,
    ev.JobReleased: _released,
    ev.HeartbeatRecorded: _heartbeat,
    ev.JobStarted: _started,
    ev.ProgressReported: _progressed,
    ev.UsageRecorded: _used,
    ev.StepsAppended: _stepped,
    ev.JobCompleted: _completed,
    ev.AttemptFailed: _attempt_failed,
    ev.JobFailed: _failed,
    ev.LeaseExpired: _lease_expired,
    ev.CancellationRequested: _cancellation_requested,
}
CHANGES: dict[type, Callable[[Row, Any], None]] = {
    kind: next((_CHANGES[c] for c in kind.__mro__ if c in _CHANGES), _nothing_more)
    for kind in ev.EVENT_TYPES
}
RENEWING = frozenset(kind for kind in ev.EVENT_TYPES if issubclass(kind, ev.RENEWING))
STATUSES = {status.value: status for status in JobStatus}


def evolve(row: Row, event: ev.JobEvent) -> None:
    """Apply one event to a job's summary row."""
    before = row["status"]
    after = event.next_status(STATUSES[before]).value
    row["status"] = after
    row["last_event_at"] = event.timestamp
    row["version"] = event.originator_version
    if after != before and after in ("completed", "failed", "cancelled"):
        row["finished_at"] = event.timestamp
        row["agent"] = None
        row["lease_expires_at"] = None
        if row["started_at"] is not None:
            row["run_duration_ms"] = milliseconds(row["started_at"], event.timestamp)
    kind = type(event)
    if kind in RENEWING and event.lease_expires_at is not None:  # type: ignore[attr-defined]
        row["lease_expires_at"] = event.lease_expires_at  # type: ignore[attr-defined]
    CHANGES[kind](row, event)
    _forecast(row)


class JobSummaryProjection(BatchProjection):
    name = "job_summaries"
    tables = (JOB_SUMMARIES,)
    handles = ev.EVENT_TYPES
    version = 2  # 2: a requeued job forgets the failed attempt's preliminary findings

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {
            JOB_SUMMARIES: {(p.job_id,) for p in events if not isinstance(p.event, ev.JobSubmitted)}
        }

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        event = positioned.event
        if isinstance(event, ev.JobSubmitted):
            row = new_summary(event)
        else:
            found = batch.get(JOB_SUMMARIES, (positioned.job_id,))
            if found is None:
                return  # a history without its submission: nothing to summarise
            row = found
            evolve(row, event)
        row["position"] = positioned.position
        batch.put(JOB_SUMMARIES, row)
