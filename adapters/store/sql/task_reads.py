"""Reading the tasks read model: a job's tasks and verdict, a worker's enqueued tasks,
and each worker's results for the statistics (the same SQL on every store)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from jobledger.adapters.store.sql.read_store import Answer, ReadStore, Row
from jobledger.projections import schema


@dataclass(frozen=True)
class JobTasks:
    tasks: list[Row]
    verdict: Row | None  # None: not decided (or nothing counted: ``score`` None)


def decoded(row: Row) -> Row:
    """A stored row with its JSON text columns as lists."""
    out = dict(row)
    for name in ("analyses", "counted"):
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    return out


async def job_tasks(store: ReadStore, job_id: UUID, tenant: str) -> Answer[JobTasks]:
    async with store.snapshot():
        position = await store.position("tasks")
        found = await tasks_of_jobs(store, [str(job_id)], tenant)
    return Answer(found[str(job_id)] or JobTasks([], None), position)


async def tasks_of_jobs(
    store: ReadStore, job_ids: list[str], tenant: str
) -> dict[str, JobTasks | None]:
    """The tasks and verdict of many jobs in two statements (None: a job without tasks)."""
    tasks = await store.by_job(schema.TASKS, job_ids, tenant, order="worker")
    verdicts = await store.by_job(schema.VERDICTS, job_ids, tenant, order="job_id")
    return {
        job_id: JobTasks(
            [decoded(t) for t in tasks[job_id]],
            decoded(verdicts[job_id][0]) if verdicts[job_id] else None,
        )
        if tasks[job_id]
        else None
        for job_id in job_ids
    }


async def claimable_tasks(store: ReadStore, tenant: str, worker: str, limit: int) -> list[str]:
    """Job ids with a task enqueued for ``worker``, oldest first."""
    records = await store._rows(
        f"SELECT job_id FROM {schema.TASKS.name} WHERE tenant = ? AND worker = ? "
        f"AND state = 'enqueued' ORDER BY created_at, job_id LIMIT {int(limit)}",
        [tenant, worker],
    )
    return [str(r["job_id"]) for r in records]


@dataclass(frozen=True)
class WorkerResults:
    """One worker's tasks by outcome, and its scores (uncertain ones counted apart)."""

    worker: str
    tasks: int
    successful: int
    failed: int
    timeouts: int
    cancelled: int
    uncertain: int
    score_average: float | None
    score_max: int | None


@dataclass(frozen=True)
class VerdictCounts:
    decided: int = 0  # jobs whose every task is final
    verdicts: int = 0  # of which a score counted
    uncertain: int = 0  # of which the verdict is -1
    no_verdict: int = 0  # of which nothing counted


@dataclass(frozen=True)
class TaskStatistics:
    workers: list[WorkerResults]
    verdicts: VerdictCounts


async def task_statistics(store: ReadStore, tenant: str) -> Answer[TaskStatistics]:
    """Scores by worker, timeouts by worker, and how jobs of tasks were decided."""
    async with store.snapshot():
        position = await store.position("tasks")
        records = await store._rows(
            "SELECT worker, COUNT(*) AS tasks, "
            "SUM(CASE WHEN state = 'successful' THEN 1 ELSE 0 END) AS successful, "
            "SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, "
            "SUM(CASE WHEN state = 'timeout' THEN 1 ELSE 0 END) AS timeouts, "
            "SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, "
            "SUM(CASE WHEN score = -1 THEN 1 ELSE 0 END) AS uncertain, "
            "AVG(CASE WHEN score >= 0 THEN score END) AS score_average, "
            "MAX(score) AS score_max "
            f"FROM {schema.TASKS.name} WHERE tenant = ? GROUP BY worker ORDER BY worker",
            [tenant],
        )
        decided = await store._rows(
            "SELECT COUNT(*) AS decided, "
            "SUM(CASE WHEN score IS NOT NULL THEN 1 ELSE 0 END) AS verdicts, "
            "SUM(CASE WHEN score = -1 THEN 1 ELSE 0 END) AS uncertain "
            f"FROM {schema.VERDICTS.name} WHERE tenant = ?",
            [tenant],
        )
    workers = [
        WorkerResults(
            worker=r["worker"],
            tasks=int(r["tasks"]),
            successful=int(r["successful"] or 0),
            failed=int(r["failed"] or 0),
            timeouts=int(r["timeouts"] or 0),
            cancelled=int(r["cancelled"] or 0),
            uncertain=int(r["uncertain"] or 0),
            score_average=None if r["score_average"] is None else float(r["score_average"]),
            score_max=None if r["score_max"] is None else int(r["score_max"]),
        )
        for r in records
    ]
    total = decided[0]
    count, verdicts = int(total["decided"] or 0), int(total["verdicts"] or 0)
    counts = VerdictCounts(count, verdicts, int(total["uncertain"] or 0), count - verdicts)
    return Answer(TaskStatistics(workers, counts), position)
