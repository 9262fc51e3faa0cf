"""The Job's commands on its tasks: each checks the job's table, the task's table,
the lease (fencing) and the worker, then records; the last task to become final
records the verdict in the same write.

Why tasks live inside the Job aggregate: the job's status follows its tasks and the
verdict is drawn from all of them, so one aggregate makes "every task final" and
"the verdict is recorded" one atomic fact, and a race between two workers finishing
at once is an optimistic-concurrency conflict the Ledger decides again. A job has
few tasks (``MAX_TASK_WORKERS``), so the aggregate stays small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from jobledger.domain import task_events as te
from jobledger.domain.errors import InvalidCommand, LeaseMismatch, NotNamedWorker, TaskNotFound
from jobledger.domain.lifecycle import Trigger, lifecycle
from jobledger.domain.results import parse_job_type, validate_result
from jobledger.domain.task_commands import UpdateTask
from jobledger.domain.task_lifecycle import TaskState, TaskTrigger, task_lifecycle
from jobledger.domain.verdict import EarlierResult, TaskOutcome, Verdict, decide

if TYPE_CHECKING:
    from jobledger.domain.job import EventContext, Job

# The earlier results of the job's workers on its subject, looked up when deciding.
Earlier = Callable[["Job"], Mapping[str, EarlierResult]]


def task_id_of(job_id: UUID, worker: str) -> str:
    """A task's id: the same for the same job and worker, whoever computes it."""
    return str(uuid5(job_id, worker))


def create_tasks(job: Job, ctx: EventContext, subject: str, workers: list[str]) -> None:
    job.trigger_event(
        te.TasksCreated,
        **ctx.fields(),
        subject=subject,
        workers=list(workers),
        task_ids=[task_id_of(job.id, w) for w in workers],
    )


def task_of(job: Job, task_id: str) -> dict[str, Any]:
    task = job.tasks.get(task_id)
    if task is None:
        raise TaskNotFound(job.id, task_id)
    return task


def worker_task(job: Job, worker: str) -> dict[str, Any]:
    """The task of ``worker`` in this job."""
    task = job.tasks.get(task_id_of(job.id, worker))
    if task is None:
        raise NotNamedWorker(f"job {job.id} has no task named for {worker!r}")
    return task


def _check(
    job: Job,
    ctx: EventContext,
    task: dict[str, Any],
    trigger: Trigger,
    task_trigger: TaskTrigger,
    lease_id: str | None = None,
) -> None:
    """The worker, fencing, then both tables. A stale lease is answered first, as the
    job's own commands do: a worker whose lease is gone learns that."""
    if ctx.actor != task["worker"]:
        raise NotNamedWorker(f"task {task['task_id']} of job {job.id} is named for another worker")
    state = TaskState(task["state"])
    held = task.get("lease_id")
    if held is None or lease_id in (None, held):
        task_lifecycle().check(job.id, task["task_id"], state, task_trigger)
        lifecycle().check(job.id, job.status, trigger, of_tasks=True)
    if lease_id is not None and lease_id != held:
        raise LeaseMismatch(job.id, lease_id, held, state.value, task.get("lease_expires_at"))


def claim_task(
    job: Job, ctx: EventContext, *, worker: str, lease_id: str, lease_seconds: float
) -> None:
    task = worker_task(job, worker)
    _check(job, ctx, task, Trigger.CLAIM_TASK, TaskTrigger.CLAIM)
    job.trigger_event(
        te.TaskClaimed,
        **ctx.fields(),
        task_id=task["task_id"],
        worker=worker,
        lease_id=lease_id,
        lease_expires_at=ctx.timestamp + timedelta(seconds=lease_seconds),
    )


def update_task(job: Job, ctx: EventContext, command: UpdateTask, earlier: Earlier) -> None:
    """Executing renews the lease; successful and failed are final, and the last final
    task brings the verdict."""
    task = task_of(job, command.task_id)
    if command.state == "executing":
        _check(job, ctx, task, Trigger.RENEW_TASK, TaskTrigger.RENEW, command.lease_id)
        length = timedelta(seconds=task.get("lease_seconds") or 0)
        job.trigger_event(
            te.TaskLeaseRenewed,
            **ctx.fields(),
            task_id=task["task_id"],
            lease_expires_at=ctx.timestamp + length,
        )
        return
    fields = {**ctx.fields(), "task_id": task["task_id"], "worker": task["worker"]}
    if command.state == "successful":
        _check(job, ctx, task, Trigger.FINISH_TASK, TaskTrigger.SUCCEED, command.lease_id)
        job.trigger_event(
            te.TaskSucceeded, **fields, score=command.score, analyses=list(command.analyses)
        )
    else:
        _check(job, ctx, task, Trigger.FINISH_TASK, TaskTrigger.FAIL, command.lease_id)
        job.trigger_event(
            te.TaskFailed, **fields, code=command.error_code, message=command.error_message
        )
    conclude(job, ctx, earlier)


def expire_task_lease(job: Job, ctx: EventContext, task_id: str, earlier: Earlier) -> None:
    """Recorded by the sweeper once the task's lease deadline has passed."""
    task = task_of(job, task_id)
    task_lifecycle().check(job.id, task_id, TaskState(task["state"]), TaskTrigger.EXPIRE_LEASE)
    lifecycle().check(job.id, job.status, Trigger.EXPIRE_TASK_LEASE, of_tasks=True)
    deadline: datetime | None = task.get("lease_expires_at")
    if deadline is not None and ctx.timestamp < deadline:
        raise InvalidCommand(
            f"task {task_id} of job {job.id}: lease runs until {deadline.isoformat()}"
        )
    job.trigger_event(
        te.TaskTimedOut,
        **ctx.fields(),
        task_id=task_id,
        worker=task["worker"],
        lease_id=task.get("lease_id") or "",
    )
    conclude(job, ctx, earlier)


def cancel_tasks(job: Job, ctx: EventContext, reason: str) -> None:
    """Cancel every task not yet final (the job's cancel records its own event next)."""
    for task in list(job.tasks.values()):
        if not TaskState(task["state"]).is_final:
            job.trigger_event(
                te.TaskCancelled,
                **ctx.fields(),
                task_id=task["task_id"],
                worker=task["worker"],
                reason=reason,
            )


def outcomes(job: Job) -> list[TaskOutcome]:
    return [
        TaskOutcome(t["task_id"], t["worker"], TaskState(t["state"]), t.get("score"))
        for t in job.tasks.values()
    ]


def conclude(job: Job, ctx: EventContext, earlier: Earlier) -> None:
    """Once every task is final: the verdict (completed) or ``no_verdict`` (failed)."""
    if not all(TaskState(t["state"]).is_final for t in job.tasks.values()):
        return
    verdict = decide(str(job.id), outcomes(job), earlier(job))
    if verdict is None:
        job.trigger_event(
            te.NoVerdictReached,
            **ctx.fields(),
            code="no_verdict",
            message="no task counted a score: none succeeded and no earlier result stood in",
            retryable=False,
            attempt=job.attempt,
        )
        return
    counted = [c.as_dict() for c in verdict.counted]
    job.trigger_event(
        te.VerdictReached,
        **ctx.fields(),
        result=verdict_result(job, verdict, counted),
        score=verdict.score,
        counted=counted,
    )


def verdict_result(job: Job, verdict: Verdict, counted: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict as a result of the job's type: a summary and one ``verdict`` finding."""
    label = "uncertain" if verdict.uncertain else f"score {verdict.score}"
    result = validate_result(
        parse_job_type(job.job_type),
        {
            "summary": f"verdict: {label} ({len(counted)} score(s) counted)",
            "findings": [
                {
                    "kind": "verdict",
                    "label": label,
                    "details": {"score": verdict.score, "counted": counted},
                }
            ],
        },
    )
    return result.model_dump(mode="json")
