"""Turning read-model rows and events into what the API answers.

A command's answer is folded from the job's own events with the projection's
``evolve``, so it has exactly the shape a later read of the read model gives.

A job's summary and envelope are built as plain JSON-ready dicts under the answer
models' JSON names (``shaped``), not as models: the data is the ledger's own, already
checked when it was recorded, and validating it again on every read cost more than the
rest of the answer. The models still describe the answers in OpenAPI, and a test holds
every dict built here valid against its model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel

from jobledger.adapters.http.schemas.jobs import (
    CostItem,
    Durations,
    Findings,
    InputOut,
    JobEnvelope,
    JobError,
    JobSummary,
    Money,
    RecordedEvent,
    StatsItem,
    Tokens,
)
from jobledger.adapters.http.schemas.tasks import Task, Verdict
from jobledger.adapters.store.sql.read_store import CostTotal, StatsRow
from jobledger.adapters.store.sql.task_reads import JobTasks, decoded
from jobledger.domain import events as ev
from jobledger.domain.task_events import TasksCreated
from jobledger.projections.base import Row
from jobledger.projections.job_summaries import evolve, milliseconds, new_summary
from jobledger.projections.tasks import fold_tasks

# What the creator handed in beside the job's type: it may name or quote the material under
# investigation, so it is shown to the creator only, in the envelope and in raw events alike.
SUBMITTED_PRIVATELY = ("inputs", "config", "metadata")


class _Submitted(Protocol):
    inputs: list[dict[str, Any]]
    config: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    """A job's privately submitted part (see ``SUBMITTED_PRIVATELY``); fixed once recorded."""

    inputs: list[dict[str, Any]]
    config: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def of(cls, recorded: _Submitted) -> Submission:
        """From the ``JobSubmitted`` event or the Job, which both hold it."""
        return cls(list(recorded.inputs), dict(recorded.config), dict(recorded.metadata))


def fold_summary(events: Sequence[ev.JobEvent]) -> Row:
    """A job's summary row, folded from its events (the first must be its submission)."""
    first = events[0]
    assert isinstance(first, ev.JobSubmitted)
    row = new_summary(first)
    for event in events[1:]:
        evolve(row, event)
    return row


def summary_of(row: Row, currency: str) -> dict[str, Any]:
    """A job as lists and streams show it (``JobSummary``), JSON-ready."""
    return shaped(JobSummary, _summary_fields(row, currency))


def envelope_of(
    row: Row,
    currency: str,
    *,
    result: dict[str, Any] | None,
    submission: Submission | None,
    tasks: JobTasks | None = None,
) -> dict[str, Any]:
    """The job's envelope (``JobEnvelope``), JSON-ready; ``submission`` None (the caller
    is not the creator): its fields are ``null``."""
    fields = _summary_fields(row, currency)
    fields["result"] = result if row["status"] == "completed" else None
    fields.update(dict.fromkeys(SUBMITTED_PRIVATELY))
    fields.update(tasks_fields(tasks))
    if submission is not None:
        fields["inputs"] = [_input(recorded) for recorded in submission.inputs]
        fields["config"] = submission.config
        fields["metadata"] = submission.metadata
    return shaped(JobEnvelope, fields)


def tasks_fields(found: JobTasks | None) -> dict[str, Any]:
    """A job of tasks' subject, tasks and verdict, JSON-ready (all null for other jobs)."""
    if found is None or not found.tasks:
        return {"subject": None, "tasks": None, "verdict": None}
    verdict = found.verdict
    return {
        "subject": found.tasks[0]["subject"],
        "tasks": [Task.of(t).model_dump(mode="json", by_alias=True) for t in found.tasks],
        "verdict": None
        if verdict is None
        else Verdict.of(verdict).model_dump(mode="json", by_alias=True),
    }


def fold_job_tasks(events: Sequence[ev.JobEvent]) -> JobTasks | None:
    """The job's tasks and verdict folded from its events; None for a job without tasks."""
    if len(events) < 2 or not isinstance(events[1], TasksCreated):
        return None
    tasks, verdict = fold_tasks(events)
    return JobTasks([decoded(t) for t in tasks], None if verdict is None else decoded(verdict))


def processing_time_ms(row: Row) -> int:
    """From the job's first claim to its finish, or while unfinished to its latest change;
    0 before any claim. Read from the row alone, so every read of a version agrees."""
    end = row["finished_at"] or row["last_event_at"]
    return milliseconds(row["claimed_at"], end) or 0


def shaped(model: type[BaseModel], fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (by the model's field names) under the JSON names the model gives them."""
    names = _json_names(model)
    return {names[name]: value for name, value in fields.items()}


@cache
def _json_names(model: type[BaseModel]) -> dict[str, str]:
    return {name: field.alias or name for name, field in model.model_fields.items()}


def _input(recorded: dict[str, Any]) -> dict[str, Any]:
    """An input as recorded (its ``uri`` left out when it had none)."""
    return shaped(InputOut, {name: recorded.get(name) for name in InputOut.model_fields})


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return shaped(Money, {"amount": format(amount, "f"), "currency": currency})


def _summary_fields(row: Row, currency: str) -> dict[str, Any]:
    failed = row["status"] == "failed"
    projected: Decimal | None = row["projected_cost"]
    return {
        "id": row["job_id"],
        "type": row["job_type"],
        "status": row["status"],
        "created_at": row["created_at"],
        "updated_at": row["last_event_at"],
        "error": shaped(
            JobError,
            {"code": row["error_code"] or "failed", "message": row["error_message"] or ""},
        )
        if failed
        else None,
        "progress": row["progress"],
        "attempt": row["attempt"],
        "max_attempts": row["max_attempts"],
        "priority": row["priority"],
        "tenant_id": row["tenant"],
        "investigation_id": row["investigation_id"],
        "created_by": row["created_by"],
        "agent": row["agent"],
        "lease_expires_at": row["lease_expires_at"],
        "not_before": row["not_before"],
        "pool": row["pool"],
        "tokens": shaped(
            Tokens,
            {
                "input": row["input_tokens"],
                "output": row["output_tokens"],
                "cached_input": row["cached_input_tokens"],
            },
        ),
        "cost": _money(row["cost"], currency),
        "projected_cost": None if projected is None else _money(projected, currency),
        "estimated_completion_at": row["estimated_completion_at"],
        "cancellation_requested": row["cancellation_requested"],
        "processing_time_ms": processing_time_ms(row),
        "findings": shaped(
            Findings,
            {
                "entities": row["entities"],
                "relationships": row["relationships"],
                "anomalies": row["anomalies"],
                "predictions": row["predictions"],
            },
        ),
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "version": row["version"],
    }


def stats_item(row: StatsRow, currency: str) -> StatsItem:
    """One tenant and job type's statistics, as REST and GraphQL answer them."""
    return StatsItem(
        tenant_id=row.tenant,
        type=row.job_type,
        status_counts=row.status_counts,
        queue_depth=row.queue_depth,
        working=row.working,
        submitted=row.submitted,
        completed=row.completed,
        failed=row.failed,
        cancelled=row.cancelled,
        retried=row.retried,
        failure_rate=row.failure_rate,
        tokens=Tokens.of(row),
        cost=Money.of(row.cost, currency),
        unpriced_usages=row.unpriced_usages,
        run_ms=Durations(average=row.run_ms_average, p50=row.run_ms_p50, p95=row.run_ms_p95),
        queue_wait_ms=Durations(
            average=row.queue_wait_ms_average,
            p50=row.queue_wait_ms_p50,
            p95=row.queue_wait_ms_p95,
        ),
    )


def cost_item(total: CostTotal, currency: str) -> CostItem:
    """One group's token usage and cost, as REST and GraphQL answer them."""
    return CostItem(
        key=total.key,
        usages=total.usages,
        tokens=Tokens.of(total),
        cost=Money.of(total.cost, currency),
        unsuccessful_cost=Money.of(total.unsuccessful_cost, currency),
        unpriced_usages=total.unpriced_usages,
    )


_ENVELOPE_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "actor",
    "tenant",
    "correlation_id",
}


def recorded_event(event: ev.JobEvent, *, reader: str) -> RecordedEvent:
    """An event as stored, its payload in JSON types (Decimal as text); a submission's
    private part is ``null`` unless the reader is the job's creator."""
    data = {k: _json(v) for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}
    if isinstance(event, ev.JobSubmitted) and event.actor != reader:
        data.update(dict.fromkeys(SUBMITTED_PRIVATELY))
    return RecordedEvent(
        version=event.originator_version,
        type=type(event).__name__,
        at=event.timestamp,
        actor=event.actor,
        tenant_id=event.tenant,
        correlation_id=event.correlation_id,
        data=data,
    )


def _json(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
