"""A job's tasks: named workers claim and update theirs; readers list them with the verdict.

An ``analyzer`` is the worker its token's subject names: it claims the tasks named
for it (``POST /v1/claims/tasks``) and updates them under the claim's lease, with
a ``commandId`` so a retry records nothing twice. Readers see a job's tasks as
they see the job.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal, Role
from jobledger.adapters.http.correlation import echo, job_workflow
from jobledger.adapters.http.envelope import fold_job_tasks
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas import tasks as tm
from jobledger.adapters.http.security import (
    JOB_READERS,
    READERS,
    AllowedCaller,
    Caller,
    allowed,
    caller_key,
)
from jobledger.adapters.http.services import Services, ServicesDep
from jobledger.adapters.store.sql.task_reads import (
    JobTasks,
    claimable_tasks,
    decoded,
    job_tasks,
    task_statistics,
)
from jobledger.domain.errors import JobNotFound, TaskNotFound
from jobledger.domain.ledger import Outcome
from jobledger.domain.values import CommandMeta, new_correlation_id
from jobledger.projections.tasks import fold_tasks

router = APIRouter(prefix="/v1/jobs", tags=["tasks"])
claims = APIRouter(prefix="/v1/claims", tags=["tasks"])
stats = APIRouter(prefix="/v1/stats", tags=["tasks"])

Analyzer = Annotated[Caller, Depends(AllowedCaller(Role.ANALYZER, to="claim and update tasks"))]
Reader = Annotated[
    Principal, Depends(allowed(*JOB_READERS, Role.ANALYZER, to="read a job's tasks"))
]
TenantReader = Annotated[Principal, Depends(allowed(*READERS, to="read statistics"))]
CANDIDATES = 16


@stats.get(
    "/workers",
    summary="Scores and timeouts by worker, and how jobs of tasks were decided",
    response_model=tm.TaskStatistics,
    responses=responses(401, 403),
)
async def worker_statistics(principal: TenantReader, services: ServicesDep) -> tm.TaskStatistics:
    async with services.reads.store() as store:
        answer = await task_statistics(store, principal.tenant)
    found = answer.value
    return tm.TaskStatistics(
        workers=[tm.WorkerResults.model_validate(vars(w)) for w in found.workers],
        verdicts=tm.VerdictCounts.model_validate(vars(found.verdicts)),
        position=answer.position,
    )


@router.get(
    "/{job_id}/tasks",
    summary="List a job's tasks, with its verdict",
    response_model=tm.JobTasks,
    responses=responses(401, 403, 404, 422),
)
async def list_tasks(job_id: UUID, principal: Reader, services: ServicesDep) -> tm.JobTasks:
    async with services.reads.store() as store:
        answer = await job_tasks(store, job_id, principal.tenant)
    found = answer.value
    if not found.tasks:
        found = await run_in_threadpool(_folded, services, principal, job_id)
    await _check_visible(principal, services, job_id, found)
    return tm.JobTasks(
        tasks=[tm.Task.of(t) for t in found.tasks],
        verdict=None if found.verdict is None else tm.Verdict.of(found.verdict),
        position=answer.position,
    )


@router.get(
    "/{job_id}/tasks/{task_id}",
    summary="Fetch one task of a job",
    response_model=tm.Task,
    responses=responses(401, 403, 404, 422),
)
async def get_task(job_id: UUID, task_id: str, principal: Reader, services: ServicesDep) -> tm.Task:
    listed = await list_tasks(job_id, principal, services)
    for task in listed.tasks:
        if task.task_id == task_id:
            return task
    raise TaskNotFound(job_id, task_id)


@router.put(
    "/{job_id}/tasks/{task_id}",
    summary="Update the caller's task (state, score, analyses, error)",
    response_model=tm.TaskAnswer,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
)
async def update_task(
    job_id: UUID,
    task_id: str,
    body: tm.UpdateTask,
    caller: Analyzer,
    services: ServicesDep,
    response: Response,
) -> tm.TaskAnswer:
    principal, correlation_id = caller.principal, caller.correlation_id

    def record() -> tuple[str, Outcome, tm.TaskAnswer]:
        ledger = services.ledger
        workflow = correlation_id or job_workflow(ledger, job_id, principal.tenant)
        meta = CommandMeta(workflow, _scoped(principal, str(job_id), body.command_id))
        outcome = ledger.tasks.update(
            principal.actor,
            job_id,
            task_id,
            lease_id=body.lease_id,
            state=body.state,
            score=body.score,
            analyses=body.analyses,
            error_code=None if body.error is None else body.error.code,
            error_message="" if body.error is None else body.error.message,
            meta=meta,
        )
        return workflow, outcome, _answer(services, principal, outcome, task_id)

    workflow, outcome, answer = await run_in_threadpool(record)
    echo(response, workflow)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["ETag"] = f'"{outcome.version}"'
    return answer


@claims.post(
    "/tasks",
    summary="Claim the next task named for the caller",
    response_model=tm.ClaimedTask,
    responses={204: {"description": "No task to claim"}, **responses(400, 401, 403, 413, 422)},
)
async def claim_task(
    body: tm.ClaimTask,
    caller: Analyzer,
    services: ServicesDep,
    response: Response,
) -> tm.ClaimedTask | Response:
    """Oldest first. The claim is recorded under the job's workflow unless the caller
    names one; the answer names it for the task's updates."""
    principal, correlation_id = caller.principal, caller.correlation_id
    async with services.reads.store() as store:
        candidates = await claimable_tasks(store, principal.tenant, principal.subject, CANDIDATES)
    command_id = None if body.command_id is None else _scoped(principal, "claim", body.command_id)

    def claim() -> tuple[str, Outcome] | None:
        ledger = services.ledger
        if not candidates:  # only a repeated command id can still answer
            meta = CommandMeta(correlation_id or new_correlation_id(), command_id)
            outcome = ledger.tasks.claim_next(principal.actor, [], meta=meta)
            return None if outcome is None else (meta.correlation_id, outcome)
        for job_id in (UUID(c) for c in candidates):
            try:
                workflow = correlation_id or job_workflow(ledger, job_id, principal.tenant)
            except JobNotFound:
                continue
            outcome = ledger.tasks.claim_next(
                principal.actor,
                [job_id],
                lease_seconds=body.lease_seconds,
                meta=CommandMeta(workflow, command_id),
            )
            if outcome is not None:
                return workflow, outcome
        return None

    claimed = await run_in_threadpool(claim)
    if claimed is None:
        return Response(status_code=204)
    workflow, outcome = claimed
    assert outcome.job is not None
    assert outcome.lease_id is not None
    job = outcome.job
    task_id = next(t["task_id"] for t in job.tasks.values() if t["worker"] == principal.subject)
    answer = await run_in_threadpool(_answer, services, principal, outcome, task_id)
    echo(response, workflow)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return tm.ClaimedTask(
        **answer.model_dump(),
        lease_id=outcome.lease_id,
        correlation_id=workflow,
        type=job.job_type,
    )


def _scoped(principal: Principal, scope: str, command_id: str) -> str:
    """Command ids are the caller's own, in a scope: "claim", or a task's job."""
    return f"task:{caller_key(principal)}:{scope}:{command_id}"


def _answer(
    services: Services, principal: Principal, outcome: Outcome, task_id: str
) -> tm.TaskAnswer:
    """The task as the command left it, folded from the job's events (the read model
    may not have caught up)."""
    events = services.ledger.job_events(outcome.job_id, tenant=principal.tenant)
    events = [e for e in events if e.originator_version <= outcome.version]
    tasks, verdict = fold_tasks(events)
    task = next(decoded(t) for t in tasks if t["task_id"] == task_id)
    status = outcome.state.status if outcome.state is not None else ""
    return tm.TaskAnswer(
        task=tm.Task.of(task),
        job_status=status,
        version=outcome.version,
        verdict=None if verdict is None else tm.Verdict.of(decoded(verdict)),
    )


def _folded(services: Services, principal: Principal, job_id: UUID) -> JobTasks:
    """A job the read model has not reached yet, from its events."""
    events = services.ledger.job_events(job_id, tenant=principal.tenant)
    return fold_job_tasks(events) or JobTasks([], None)


async def _check_visible(
    principal: Principal, services: Services, job_id: UUID, found: JobTasks
) -> None:
    """An analyzer reads the jobs it has a task in; the others, the jobs they may see."""
    if Role.ANALYZER in principal.roles and any(
        t["worker"] == principal.subject for t in found.tasks
    ):
        return
    if not principal.has_any(*JOB_READERS):
        raise JobNotFound(job_id)
    await services.visible_job(principal, job_id)  # JobNotFound unless the caller may see it
