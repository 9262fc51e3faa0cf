"""Tasks and verdicts: one row per task of a job of tasks, one per decided job.

Read by the task routes and the CLI, by the worker protocol (the enqueued tasks
named for a worker) and by the lease sweeper (executing tasks whose lease ran out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from jobledger.domain import events as ev
from jobledger.domain import task_events as te
from jobledger.projections.base import Batch, BatchProjection, Key, Positioned, ReadModelView, Row
from jobledger.projections.schema import TASK_SUBJECTS, TASKS, VERDICTS, Table

# The events about one task, by the field that names it.
ONE_TASK = (
    te.TaskClaimed,
    te.TaskLeaseRenewed,
    te.TaskSucceeded,
    te.TaskFailed,
    te.TaskTimedOut,
    te.TaskCancelled,
)
DECIDED = (te.VerdictReached, te.NoVerdictReached)


class TaskProjection(BatchProjection):
    name = "tasks"
    tables = (TASKS, VERDICTS, TASK_SUBJECTS)
    handles = (te.TasksCreated, *ONE_TASK, *DECIDED)

    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        tasks: set[Key] = set()
        jobs: set[Key] = set()
        for p in events:
            if isinstance(p.event, ONE_TASK):
                tasks.add((p.job_id, p.event.task_id))
            elif isinstance(p.event, DECIDED):
                jobs.add((p.job_id,))
        return {TASKS: tasks, TASK_SUBJECTS: jobs}

    def apply(self, positioned: Positioned, batch: Batch) -> None:
        apply_task_event(positioned, batch)


def apply_task_event(positioned: Positioned, batch: Batch) -> None:
    """One event's change to the rows; never raises."""
    event = positioned.event
    if isinstance(event, te.TasksCreated):
        _create(positioned, event, batch)
    elif isinstance(event, ONE_TASK):
        row = batch.get(TASKS, (positioned.job_id, event.task_id))
        if row is None:
            return  # a task its job never created: nothing to show
        _evolve(row, event)
        row.update(version=event.originator_version, position=positioned.position)
        batch.put(TASKS, row)
    elif isinstance(event, DECIDED):
        _decide(positioned, event, batch)


def _create(positioned: Positioned, event: te.TasksCreated, batch: Batch) -> None:
    batch.put(
        TASK_SUBJECTS,
        {"job_id": positioned.job_id, "subject": event.subject, "created_at": event.timestamp},
    )
    for task_id, worker in zip(event.task_ids, event.workers, strict=False):
        batch.put(
            TASKS,
            {
                "job_id": positioned.job_id,
                "task_id": task_id,
                "tenant": event.tenant,
                "subject": event.subject,
                "worker": worker,
                "state": "enqueued",
                "score": None,
                "analyses": "[]",
                "error_code": None,
                "error_message": None,
                "created_at": event.timestamp,
                "started_at": None,
                "finished_at": None,
                "lease_expires_at": None,
                "version": event.originator_version,
                "position": positioned.position,
            },
        )


def _evolve(row: dict[str, object], event: ev.JobEvent) -> None:
    """The task's row after one event about it, as the Job's ``tasks`` entry goes."""
    if isinstance(event, te.TaskClaimed):
        row.update(state="executing", started_at=event.timestamp)
        row["lease_expires_at"] = event.lease_expires_at
        return
    if isinstance(event, te.TaskLeaseRenewed):
        row["lease_expires_at"] = event.lease_expires_at
        return
    row.update(finished_at=event.timestamp, lease_expires_at=None)
    if isinstance(event, te.TaskSucceeded):
        row.update(state="successful", score=event.score, analyses=json.dumps(event.analyses))
    elif isinstance(event, te.TaskFailed):
        row.update(state="failed", error_code=event.code, error_message=event.message)
    elif isinstance(event, te.TaskTimedOut):
        row["state"] = "timeout"
    elif isinstance(event, te.TaskCancelled):
        row["state"] = "cancelled"


def _decide(positioned: Positioned, event: ev.JobEvent, batch: Batch) -> None:
    known = batch.get(TASK_SUBJECTS, (positioned.job_id,))
    if known is None:
        return  # a verdict without its tasks
    decided = event if isinstance(event, te.VerdictReached) else None
    batch.put(
        VERDICTS,
        {
            "job_id": positioned.job_id,
            "tenant": event.tenant,
            "subject": known["subject"],
            "score": None if decided is None else decided.score,
            "counted": json.dumps([] if decided is None else decided.counted),
            "decided_at": event.timestamp,
            "position": positioned.position,
        },
    )


class _Unstored:
    """A view with no stored rows: a fold of one job's whole history starts empty."""

    def fetch(self, table: Table, keys: object) -> dict[Key, Row]:
        return {}


def fold_tasks(events: Sequence[ev.JobEvent]) -> tuple[list[Row], Row | None]:
    """A job's task rows and verdict row, folded from its events as the projection
    writes them: what a command answers before the read model has caught up."""
    batch = Batch(cast(ReadModelView, _Unstored()), TaskProjection.tables)
    for event in events:
        if isinstance(event, TaskProjection.handles):
            apply_task_event(Positioned.of(event, 0), batch)
    changes = batch.changes()
    verdicts = changes.get(VERDICTS, [])
    return changes.get(TASKS, []), verdicts[0] if verdicts else None
