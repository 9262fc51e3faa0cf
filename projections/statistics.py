"""Statistics: counts by status, daily throughput, tokens and cost, and durations.

Everything a dashboard asks is answered from these precomputed rows, never by
scanning jobs. Durations go into log-linear buckets at most 1/16 wide, so p50
and p95 are read from a histogram (to within 6.25%), while averages are exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from jobledger.domain import events as ev
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.steps import StepUsage
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, Row
from jobledger.projections.job_summaries import STATUSES, milliseconds
from jobledger.projections.schema import (
    JOB_DAILY_STATISTICS,
    JOB_DURATION_HISTOGRAM,
    JOB_STATUS_COUNTS,
    STATISTICS_JOBS,
    Table,
)

SUB_BUCKETS = 16
DAILY_ZERO: dict[str, object] = {
    "submitted": 0,
    "completed": 0,
    "failed": 0,
    "cancelled": 0,
    "retried": 0,
    "run_ms_total": 0,
    "queue_wait_ms_total": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_input_tokens": 0,
    "cost": Decimal(0),
    "unpriced_usages": 0,
}
ENDINGS = {
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


def bucket_of(ms: int) -> int:
    """Exact below 16 ms; above, 16 buckets per power of two."""
    if ms < SUB_BUCKETS:
        return max(ms, 0)
    exponent = ms.bit_length() - 1
    return SUB_BUCKETS * (exponent - 3) + (ms >> (exponent - 4)) - SUB_BUCKETS


def lower_bound_ms(bucket: int) -> int:
    if bucket < SUB_BUCKETS:
        return bucket
    exponent, sub = divmod(bucket, SUB_BUCKETS)
    return (SUB_BUCKETS + sub) << (exponent - 1)


def quantile_ms(buckets: Iterable[tuple[int, int]], q: float) -> int | None:
    """The nearest-rank ``q`` quantile of (bucket, count) pairs, as a bucket's lower bound."""
    ordered = sorted(buckets)
    total = sum(count for _, count in ordered)
    if total == 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for bucket, count in ordered:
        seen += count
        if seen >= rank:
            return lower_bound_ms(bucket)
    return lower_bound_ms(ordered[-1][0])  # pragma: no cover


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


class StatisticsProjection(BatchProjection):
    name = "statistics"
    tables = (STATISTICS_JOBS, JOB_STATUS_COUNTS, JOB_DAILY_STATISTICS, JOB_DURATION_HISTOGRAM)
    handles = tuple(
        t for t in ev.EVENT_TYPES if t not in (ev.ProgressReported, ev.HeartbeatRecorded)
    )

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {STATISTICS_JOBS: {(p.job_id,) for p in events}}

    def prepare(self, events: Sequence[Positioned], batch: Batch) -> None:
        """Prefetch the daily rows of every (tenant, type, day) the batch touches (they hold
        money, summed exactly in Decimal); the counters are summed by the store."""
        types: dict[str, str] = {}
        for p in events:
            job_id = p.job_id
            if isinstance(p.event, ev.JobSubmitted):
                types[job_id] = p.event.job_type
            elif job_id not in types and (known := batch.get(STATISTICS_JOBS, (job_id,))):
                types[job_id] = known["job_type"]
        days = {
            (p.event.tenant, types[p.job_id], day_of(p.event.timestamp))
            for p in events
            if p.job_id in types
        }
        batch.prefetch({JOB_DAILY_STATISTICS: days})

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        event = positioned.event
        job_id = positioned.job_id
        if isinstance(event, ev.JobSubmitted):
            job: Row | None = batch.put(
                STATISTICS_JOBS,
                {
                    "job_id": job_id,
                    "tenant": event.tenant,
                    "job_type": event.job_type,
                    "status": JobStatus.QUEUED.value,
                    "created_at": event.timestamp,
                    "claimed_at": None,
                    "started_at": None,
                },
            )
            assert job is not None
            self._count(batch, job, JobStatus.QUEUED, +1)
            self._daily(batch, job, event)["submitted"] += 1
            return
        job = batch.get(STATISTICS_JOBS, (job_id,))
        if job is None:
            return  # a history without its submission
        if isinstance(event, ev.UsageRecorded):
            self._charge(self._daily(batch, job, event), event)
            return
        if isinstance(event, ev.StepsAppended):
            for _, _, usage in event.usages():
                self._charge(self._daily(batch, job, event), usage)
            return
        if isinstance(event, ev.JobClaimed) and job["claimed_at"] is None:
            job["claimed_at"] = event.timestamp
        if isinstance(event, ev.JobStarted) and job["started_at"] is None:
            job["started_at"] = event.timestamp
        before = STATUSES[job["status"]]
        after = event.next_status(before)
        if after != before:
            self._count(batch, job, before, -1)
            self._count(batch, job, after, +1)
            job["status"] = after.value
            daily = self._daily(batch, job, event)
            if isinstance(event, ev.AttemptFailed | ev.LeaseExpired) and after is JobStatus.QUEUED:
                daily["retried"] += 1
            if after in ENDINGS:
                daily[ENDINGS[after]] += 1
            if after is JobStatus.COMPLETED:
                self._record_durations(batch, job, event, daily)
        batch.put(STATISTICS_JOBS, job)

    @staticmethod
    def _count(batch: Batch, job: Row, status: JobStatus, delta: int) -> None:
        key = (job["tenant"], job["job_type"], status.value)
        batch.tally(JOB_STATUS_COUNTS, key, {})["jobs"] += delta

    @staticmethod
    def _daily(batch: Batch, job: Row, event: ev.JobEvent) -> Row:
        key = (job["tenant"], job["job_type"], day_of(event.timestamp))
        return batch.get_or_add(JOB_DAILY_STATISTICS, key, DAILY_ZERO)

    @staticmethod
    def _charge(daily: Row, usage: ev.UsageRecorded | StepUsage) -> None:
        daily["input_tokens"] += usage.input_tokens
        daily["output_tokens"] += usage.output_tokens
        daily["cached_input_tokens"] += usage.cached_input_tokens
        if usage.cost is None:
            daily["unpriced_usages"] += 1
        else:
            daily["cost"] += usage.cost

    @staticmethod
    def _record_durations(batch: Batch, job: Row, event: ev.JobEvent, daily: Row) -> None:
        measures = {
            "queue_wait": milliseconds(job["created_at"], job["claimed_at"] or event.timestamp),
            "run": milliseconds(job["started_at"], event.timestamp),
        }
        for measure, ms in measures.items():
            if ms is None:
                continue
            daily["run_ms_total" if measure == "run" else "queue_wait_ms_total"] += ms
            bucket = bucket_of(ms)
            key = (job["tenant"], job["job_type"], day_of(event.timestamp), measure, bucket)
            counted = batch.tally(JOB_DURATION_HISTOGRAM, key, {"lower_ms": lower_bound_ms(bucket)})
            counted["jobs"] += 1
