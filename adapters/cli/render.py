"""How the CLI shows a job, its history and money."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from jobledger.domain.bounds import FINDING_KINDS
from jobledger.domain.history import StatusChange
from jobledger.domain.job import Job
from jobledger.domain.lifecycle import JobStatus

STATUS_STYLES = {
    "queued": "cyan",
    "claimed": "blue",
    "running": "yellow",
    "validating": "yellow",
    "uploading": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def money(amount: Decimal, currency: str = "USD") -> str:
    """Exact to the millionth of a unit, never in exponent notation."""
    return f"{amount.quantize(Decimal('0.000001')):f} {currency}"


def when(moment: datetime | None) -> str:
    """UTC to the millisecond, short enough for a table cell."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def status_text(status: str) -> Text:
    return Text(status, style=f"bold {STATUS_STYLES.get(status, 'white')}")


def job_panel(job: Job, currency: str, title: str | None = None) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", justify="right")
    grid.add_column()
    status = status_text(job.status_value)
    if job.cancellation_requested and not job.status.is_terminal:
        status.append("  (cancellation requested)", style="magenta")
    rows: list[tuple[str, RenderableType]] = [
        ("status", status),
        ("type", job.job_type),
        ("tenant", job.tenant),
        ("investigation", job.investigation_id or "-"),
        ("created by", job.created_by),
        ("priority", str(job.priority)),
        ("attempt", f"{job.attempt} of {job.max_attempts}"),
        (
            "progress",
            f"{job.progress}%" + (f"  {job.progress_message}" if job.progress_message else ""),
        ),
        ("agent", job.agent or "-"),
        (
            "tokens",
            "input {input:,}  output {output:,}  cached {cached_input:,}".format(**job.tokens),
        ),
        ("cost", money(job.cost, currency) + ("  + unpriced usage" if job.unpriced_usage else "")),
        ("created", when(job.created_on)),
        ("updated", when(job.modified_on)),
        ("version", str(job.version)),
    ]
    if job.preliminary_findings and job.result is None:
        found = ", ".join(f"{k} {v}" for k, v in sorted(job.preliminary_findings.items()))
        rows.append(("preliminary", found))
    if job.inputs:
        rows.append(
            (
                "inputs",
                ", ".join(
                    f"{i['name']} ({i['media_type']}, {i['size_bytes']:,} B)" for i in job.inputs
                ),
            )
        )
    if job.error is not None:
        label = "error" if job.status is JobStatus.FAILED else "last error"
        text = f"{job.error['code']}: {job.error['message']} (attempt {job.error['attempt']})"
        rows.append((label, Text(text, style="red")))
    for label, value in rows:
        grid.add_row(label, value)
    parts: list[RenderableType] = [grid]
    if job.result is not None:
        parts.append(result_view(job.result))
    return Panel(Group(*parts), title=title or f"job {job.id}", expand=False)


def result_view(result: dict[str, Any], most: int = 10) -> Group:
    """The summary, the four counts and the first findings; ``--json`` shows all."""
    counts = "  ".join(f"{k} {result.get(k, 0)}" for k in FINDING_KINDS)
    findings = Table("kind", "label", "confidence", "severity", box=None, padding=(0, 2))
    for finding in result.get("findings", [])[:most]:
        findings.add_row(
            finding["kind"],
            finding["label"],
            f"{finding.get('confidence', 1.0):.2f}",
            finding.get("severity") or "",
        )
    total = len(result.get("findings", []))
    more = (
        Text(f"... and {total - most} more (--json shows all)", style="dim")
        if total > most
        else Text("")
    )
    return Group(
        Text("\nresult", style="bold"),
        Text(result.get("summary") or "(no summary)"),
        Text(counts, style="dim"),
        findings,
        more,
    )


def job_json(job: Job) -> str:
    """Everything ``show`` knows about a job, as JSON for scripts."""
    state = {k.lstrip("_"): v for k, v in vars(job).items() if k != "_pending_events"}
    state["id"] = str(job.id)
    return json.dumps(state, default=_json_value, indent=2, sort_keys=True)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # Decimal and UUID: exact text


def history_table(changes: Sequence[StatusChange]) -> Table:
    table = Table(title="status history", title_justify="left")
    for column in ("version", "at", "from", "to", "trigger", "actor", "reason"):
        table.add_column(column, no_wrap=column in ("at", "from", "to"))
    for change in changes:
        table.add_row(
            str(change.version),
            when(change.at),
            change.from_status or "(new)",
            status_text(change.to_status),
            change.trigger,
            change.actor,
            change.reason or "",
        )
    return table
