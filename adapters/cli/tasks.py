"""``jobledger tasks JOB``: a job of tasks' tasks and its verdict, with where each
counted score came from, read from the ledger itself (always current)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from jobledger.adapters.cli.options import DbOption, open_ledger
from jobledger.domain.job import Job

out = Console()


def tasks(
    job: Annotated[str, typer.Argument(help="Job id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tasks as JSON")] = False,
    db: DbOption = None,
) -> None:
    """Show a job's tasks (worker, state, score, analyses, error) and its verdict."""
    from jobledger.adapters.cli.main import parse_job_id

    current = open_ledger(db, create=False).get(parse_job_id(job))
    if as_json:
        print(json.dumps(as_data(current), indent=2, default=str))
        return
    if not current.tasks:
        out.print(f"job {current.id} has no tasks (it was not submitted with workers)")
        return
    out.print(task_table(current))
    out.print(verdict_text(current))


def as_data(job: Job) -> dict[str, Any]:
    tasks = [{k: v for k, v in t.items() if k != "lease_id"} for t in job.tasks.values()]
    return {"job_id": str(job.id), "status": job.status.value, "subject": job.subject,
            "tasks": tasks, "verdict": job.verdict}  # fmt: skip


def task_table(job: Job) -> Table:
    table = Table(title=f"tasks of job {job.id} on {job.subject}", box=box.SIMPLE_HEAD)
    for column in ("worker", "state", "score", "analyses", "error", "started", "ended"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for task in sorted(job.tasks.values(), key=lambda t: t["worker"]):
        error = task.get("error")
        table.add_row(
            task["worker"],
            task["state"],
            "" if task.get("score") is None else str(task["score"]),
            ", ".join(task.get("analyses") or []),
            "" if not error else f"{error['code']}: {error['message']}".rstrip(": "),
            _time(task.get("started_at")),
            _time(task.get("finished_at")),
        )
    return table


def verdict_text(job: Job) -> str:
    if job.verdict is None:
        if job.error is not None and job.error.get("code") == "no_verdict":
            return "no verdict: no task counted a score"
        return f"no verdict yet (the job is {job.status.value})"
    score = job.verdict["score"]
    lines = [f"verdict: {'uncertain (-1)' if score == -1 else score}"]
    for counted in job.verdict["counted"]:
        source = (
            "its own result"
            if counted["source"] == "task"
            else f"task {counted['source_task_id']} of earlier job {counted['source_job_id']}"
        )
        lines.append(f"  {counted['worker']}: {counted['score']} ({source})")
    return "\n".join(lines)


def _time(value: Any) -> str:
    return "" if value is None else value.strftime("%H:%M:%S")
