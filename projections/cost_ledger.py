"""The cost ledger: one entry per usage, and each attempt's spend with how it ended.

Entries never change once written. Attempts carry the outcome, so spend on
attempts that did not succeed (failed, expired, cancelled) is visible as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from jobledger.domain import events as ev
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, Row
from jobledger.projections.schema import COST_ATTEMPTS, COST_ENTRIES, COST_JOBS, Table
from jobledger.projections.statistics import day_of

ATTEMPT_ENDINGS: dict[type[ev.JobEvent], str] = {
    ev.JobCompleted: "succeeded",
    ev.AttemptFailed: "failed",
    ev.JobFailed: "failed",
    ev.JobCancelled: "cancelled",
    ev.CancellationAcknowledged: "cancelled",
}


def attempt_outcome(event: ev.JobEvent) -> str | None:
    if isinstance(event, ev.LeaseExpired):
        return "cancelled" if event.outcome == "cancelled" else "failed"
    return ATTEMPT_ENDINGS.get(type(event))


class CostLedgerProjection(BatchProjection):
    name = "cost_ledger"
    tables = (COST_JOBS, COST_ENTRIES, COST_ATTEMPTS)
    handles = (ev.JobSubmitted, ev.JobClaimed, ev.UsageRecorded, ev.LeaseExpired, *ATTEMPT_ENDINGS)

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {
            COST_JOBS: {(p.job_id,) for p in events},
            COST_ATTEMPTS: {
                (p.job_id, p.event.attempt)
                for p in events
                if isinstance(
                    p.event, ev.UsageRecorded | ev.JobClaimed | ev.AttemptFailed | ev.JobFailed
                )
            },
        }

    def prepare(self, events: Sequence[Positioned], batch: Batch) -> None:
        """The attempts that ending events close: each job's current one."""
        current = {
            (p.job_id, job["attempt"])
            for p in events
            if (job := batch.get(COST_JOBS, (p.job_id,))) is not None
        }
        batch.prefetch({COST_ATTEMPTS: current})

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        event = positioned.event
        job_id = positioned.job_id
        if isinstance(event, ev.JobSubmitted):
            batch.put(
                COST_JOBS,
                {
                    "job_id": job_id,
                    "tenant": event.tenant,
                    "investigation_id": event.investigation_id,
                    "job_type": event.job_type,
                    "attempt": 1,
                },
            )
            return
        job = batch.get(COST_JOBS, (job_id,))
        if job is None:
            return  # a history without its submission
        if isinstance(event, ev.JobClaimed):
            job["attempt"] = event.attempt
            batch.put(COST_JOBS, job)
            self._attempt(batch, job, event.attempt)["outcome"] = "open"
        elif isinstance(event, ev.UsageRecorded):
            self._entry(batch, job, positioned.position, event)
            attempt = self._attempt(batch, job, event.attempt)
            attempt["usages"] += 1
            attempt["cost"] += event.cost or Decimal(0)
        else:
            outcome = attempt_outcome(event)
            ended = batch.get(COST_ATTEMPTS, (job_id, job["attempt"]))
            if outcome is not None and ended is not None:
                ended["outcome"] = outcome
                batch.put(COST_ATTEMPTS, ended)

    @staticmethod
    def _attempt(batch: Batch, job: Row, number: int) -> Row:
        return batch.get_or_add(
            COST_ATTEMPTS,
            (job["job_id"], number),
            {
                "tenant": job["tenant"],
                "investigation_id": job["investigation_id"],
                "job_type": job["job_type"],
                "outcome": "open",
                "usages": 0,
                "cost": Decimal(0),
            },
        )

    @staticmethod
    def _entry(batch: Batch, job: Row, position: int, usage: ev.UsageRecorded) -> None:
        batch.put(
            COST_ENTRIES,
            {
                "position": position,
                "job_id": job["job_id"],
                "tenant": job["tenant"],
                "investigation_id": job["investigation_id"],
                "job_type": job["job_type"],
                "attempt": usage.attempt,
                "model": usage.model,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cached_input_tokens": usage.cached_input_tokens,
                "price_book_version": usage.price_book_version,
                "input_per_million": usage.input_per_million,
                "output_per_million": usage.output_per_million,
                "cached_input_per_million": usage.cached_input_per_million,
                "cost": usage.cost,
                "currency": usage.currency,
                "at": usage.timestamp,
                "day": day_of(usage.timestamp),
            },
        )
