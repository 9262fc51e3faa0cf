"""``jobledger steps JOB``: an agent's steps as a timeline, with durations and cost.

Read from the job's events (the truth, so no read model need be current), folded into
the same rows as the ``steps`` read model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from rich import box
from rich.table import Table
from rich.text import Text

from jobledger.adapters.cli.render import money, when
from jobledger.domain import events as ev
from jobledger.projections.base import Row
from jobledger.projections.steps import step_rows

BAR_WIDTH = 12


def job_steps(events: Sequence[ev.JobEvent]) -> list[Row]:
    """A job's step rows in the order recorded."""
    return [
        row
        for event in events
        if isinstance(event, ev.StepsAppended)
        for row in step_rows(event, 0)
    ]


def timeline(job_id: str, rows: Sequence[Row], currency: str) -> Table:
    """One line a step: when it ran (and how long after the first), a bar of its duration
    against the longest, the action, its tools, tokens and cost; totals at the foot."""
    table = Table(
        title=f"steps of job {job_id}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_footer=bool(rows),
    )
    first = min((r["executed_at"] for r in rows), default=None)
    longest = max((r["duration_ms"] for r in rows), default=0) or 1
    total_ms = sum(r["duration_ms"] for r in rows)
    total_cost = sum((r["cost"] for r in rows if r["cost"] is not None), Decimal(0))
    tokens = sum(r["input_tokens"] + r["output_tokens"] + r["cached_input_tokens"] for r in rows)
    table.add_column("#", justify="right", footer=f"{len(rows)}")
    table.add_column("executed at (UTC)", footer="total")
    table.add_column("+s", justify="right")
    table.add_column("duration", footer=_ms(total_ms))
    table.add_column("action")
    table.add_column("ok")
    table.add_column("tools")
    table.add_column("tokens", justify="right", footer=f"{tokens:,}")
    table.add_column("cost", justify="right", footer=money(total_cost, currency))
    for row in rows:
        offset = (row["executed_at"] - first).total_seconds() if first is not None else 0.0
        bar = "█" * max(1, round(BAR_WIDTH * row["duration_ms"] / longest))
        used = row["input_tokens"] + row["output_tokens"] + row["cached_input_tokens"]
        table.add_row(
            str(row["step"]),
            when(row["executed_at"])[11:],  # the time of day: the title's job gives the rest
            f"{offset:+.1f}",
            Text(f"{bar} {_ms(row['duration_ms'])}", style="cyan"),
            _action(row),
            Text("yes", style="green") if row["success"] else Text("no", style="red"),
            _tools(row),
            f"{used:,}" if row["model"] else "-",
            "-" if row["cost"] is None else money(row["cost"], currency),
        )
    return table


def _ms(ms: int) -> str:
    return f"{ms / 1000:.2f}s" if ms >= 1000 else f"{ms}ms"


def _action(row: Row) -> str:
    category = f" ({row['category']})" if row["category"] else ""
    return f"{row['action_name']}{category}"


def _tools(row: Row) -> str:
    calls = json.loads(row["tool_calls"]) if row["tool_calls"] else []
    return ", ".join(f"{c['tool_name']} {_ms(c.get('execution_time_ms', 0))}" for c in calls) or "-"
