"""Steps: one row per agent step, in the order recorded, for the analysis report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jobledger.domain import events as ev
from jobledger.domain.steps import StepUsage
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, Row
from jobledger.projections.schema import STEPS, Table


def step_rows(event: ev.StepsAppended, position: int) -> list[Row]:
    """The rows of a batch of steps; the report folds a job's events with this too."""
    return [
        _row(event, number, step, position)
        for number, step in enumerate(event.steps, start=event.first_step)
    ]


def _row(event: ev.StepsAppended, number: int, step: dict[str, Any], position: int) -> Row:
    usage = StepUsage.of(step)
    tools = step.get("tool_calls")
    return {
        "job_id": str(event.originator_id),
        "step": number,
        "tenant": event.tenant,
        "attempt": event.attempt,
        "work_id": step.get("work_id", 0),
        "action_name": step.get("action_name", ""),
        "category": step.get("category"),
        "query": step.get("query", ""),
        "reasoning": step.get("reasoning", ""),
        "success": bool(step.get("success")),
        "iteration": step.get("iteration", 0),
        "duration_ms": step.get("duration_ms", 0),
        "executed_at": _moment(step.get("executed_at"), event),
        "verification_status": step.get("verification_status"),
        "target_item_ids": _json(step.get("target_item_ids") or []),
        "rag_response": None if step.get("rag_response") is None else _json(step["rag_response"]),
        "tool_calls": None if tools is None else _json(tools),
        "tool_count": len(tools or ()),
        "model": None if usage is None else usage.model,
        "input_tokens": 0 if usage is None else usage.input_tokens,
        "output_tokens": 0 if usage is None else usage.output_tokens,
        "cached_input_tokens": 0 if usage is None else usage.cached_input_tokens,
        "cost": None if usage is None else usage.cost,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "position": position,
    }


def _json(value: object) -> str:
    """Compact, ASCII-only JSON text (any store keeps it, lone surrogates too)."""
    return json.dumps(value, separators=(",", ":"))


def _moment(value: object, event: ev.JobEvent) -> Any:
    """Steps hold ISO 8601 text with an offset (checked when recorded)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return event.timestamp


class StepsProjection(BatchProjection):
    name = "steps"
    tables = (STEPS,)
    handles = (ev.StepsAppended,)

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        return {}  # rows are only ever added, under numbers the events carry

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        event = positioned.event
        assert isinstance(event, ev.StepsAppended)
        for row in step_rows(event, positioned.position):
            batch.put(STEPS, row)
