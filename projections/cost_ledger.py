"""The cost ledger: one entry per usage or priced agent step, each priced step's tool
calls, and each attempt's spend with how it ended.

Entries never change once written. Attempts carry the outcome, so spend on
attempts that did not succeed (failed, expired, cancelled) is visible as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from jobledger.domain import events as ev
from jobledger.domain.steps import StepUsage
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, Row
from jobledger.projections.schema import (
    COST_ATTEMPTS,
    COST_ENTRIES,
    COST_JOBS,
    COST_TOOL_CALLS,
    Table,
)
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
    tables = (COST_JOBS, COST_ENTRIES, COST_TOOL_CALLS, COST_ATTEMPTS)
    handles = (
        ev.JobSubmitted,
        ev.JobClaimed,
        ev.UsageRecorded,
        ev.StepsAppended,
        ev.LeaseExpired,
        *ATTEMPT_ENDINGS,
    )

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {
            COST_JOBS: {(p.job_id,) for p in events},
            COST_ATTEMPTS: {
                (p.job_id, p.event.attempt)
                for p in events
                if isinstance(
                    p.event,
                    ev.UsageRecorded
                    | ev.StepsAppended
                    | ev.JobClaimed
                    | ev.AttemptFailed
                    | ev.JobFailed,
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
            batch.put(
                COST_ENTRIES, self._entry(job, positioned.position, event, event.attempt, event)
            )
            self._spend(batch, job, event.attempt, event)
        elif isinstance(event, ev.StepsAppended):
            for number, step, usage in event.usages():
                entry = self._entry(job, positioned.position, event, event.attempt, usage)
                entry.update(
                    step=number, action=step.get("action_name"), category=step.get("category")
                )
                batch.put(COST_ENTRIES, entry)
                self._tools(batch, entry, step.get("tool_calls") or [])
                self._spend(batch, job, event.attempt, usage)
        else:
            outcome = attempt_outcome(event)
            ended = batch.get(COST_ATTEMPTS, (job_id, job["attempt"]))
            if outcome is not None and ended is not None:
                ended["outcome"] = outcome
                batch.put(COST_ATTEMPTS, ended)

    @staticmethod
    def _attempt(batch: Batch, job: Row, number: int) -> Row:
        key = (job["job_id"], number)
        if (known := batch.get(COST_ATTEMPTS, key)) is not None:
            return batch.put(COST_ATTEMPTS, known)
        return batch.get_or_add(
            COST_ATTEMPTS,
            key,
            {
                "tenant": job["tenant"],
                "investigation_id": job["investigation_id"],
                "job_type": job["job_type"],
                "outcome": "open",
                "usages": 0,
                "cost": Decimal(0),
            },
        )

    def _spend(
        self, batch: Batch, job: Row, number: int, usage: ev.UsageRecorded | StepUsage
    ) -> None:
        attempt = self._attempt(batch, job, number)
        attempt["usages"] += 1
        attempt["cost"] += usage.cost or Decimal(0)

    @staticmethod
    def _tools(batch: Batch, entry: Row, calls: list[dict[str, Any]]) -> None:
        for call, made in enumerate(calls):
            batch.put(
                COST_TOOL_CALLS,
                {
                    "position": entry["position"],
                    "step": entry["step"],
                    "call": call,
                    "job_id": entry["job_id"],
                    "tenant": entry["tenant"],
                    "tool_name": made.get("tool_name", ""),
                    "engine_code": made.get("engine_code"),
                    "execution_ms": made.get("execution_time_ms", 0),
                    "success": bool(made.get("success")),
                },
            )

    @staticmethod
    def _entry(
        job: Row,
        position: int,
        event: ev.JobEvent,
        attempt: int,
        usage: ev.UsageRecorded | StepUsage,
    ) -> Row:
        """The entry of a usage: a usage record's (step 0), or a priced step's."""
        return {
            "position": position,
            "step": 0,
            "action": None,
            "category": None,
            "job_id": job["job_id"],
            "tenant": job["tenant"],
            "investigation_id": job["investigation_id"],
            "job_type": job["job_type"],
            "attempt": attempt,
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
            "at": event.timestamp,
            "day": day_of(event.timestamp),
        }
