"""The worker protocol: claim a job, then report on it under the lease the claim gave.

Every command carries ``leaseId`` (a stale one is a 409 naming the job's state and
lease state) and ``commandId`` (a retry gets the first answer). Every answer says
whether a cancel was asked and how long the renewed lease runs. A command that names
no correlation id continues the job's workflow (the id it was submitted with).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal, Role
from jobledger.adapters.http.correlation import echo, job_workflow
from jobledger.adapters.http.dispatch import Claimed, ClaimRequest
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas import workers as wm
from jobledger.adapters.http.schemas.jobs import InputOut
from jobledger.adapters.http.security import AllowedCaller, Caller, caller_key
from jobledger.adapters.http.services import services_of
from jobledger.domain.ledger import Ledger, Outcome
from jobledger.domain.values import Actor, CommandMeta

claims = APIRouter(prefix="/v1/claims", tags=["workers"])
router = APIRouter(prefix="/v1/jobs", tags=["workers"])

# The worker and the correlation id it named: the one dependency of each worker route,
# which takes the services from the request (see ``AllowedCaller``).
Worker = Annotated[Caller, Depends(AllowedCaller(Role.WORKER, to="claim and run jobs"))]
ERRORS = responses(400, 401, 403, 404, 409, 413, 422)


@claims.post(
    "",
    summary="Claim the next queued job",
    response_model=wm.ClaimedJob,
    responses={204: {"description": "Nothing to claim"}, **responses(400, 401, 403, 413, 422)},
)
async def claim(
    body: wm.ClaimJob, caller: Worker, request: Request, response: Response
) -> wm.ClaimedJob | Response:
    """Highest priority first, then oldest; jobs waiting out a retry's back-off are
    skipped until due. With ``waitSeconds``, an empty queue holds the request.

    The claim is recorded under the correlation id the worker named, else under the
    job's workflow, which the answer names for the worker's later commands."""
    principal, correlation_id = caller.principal, caller.correlation_id
    wanted = ClaimRequest(
        agent=body.agent,
        pool=body.pool,
        types=tuple(t.value for t in body.types),
        lease_seconds=body.lease_seconds,
        wait_seconds=body.wait_seconds,
        command_id=None
        if body.command_id is None
        else _scoped(principal, "claim", body.command_id),
        correlation_id=correlation_id,
    )
    claimed = await services_of(request).dispatcher.claim(principal.actor, wanted)
    if claimed is None:
        nothing = Response(status_code=204)
        if correlation_id is not None:
            echo(nothing, correlation_id)
        return nothing
    if claimed.outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    echo(response, correlation_id or claimed.workflow)
    return claimed_job(claimed)


def claimed_job(claimed: Claimed) -> wm.ClaimedJob:
    """A claim's answer: the lease, the workflow, and what the job needs to run."""
    job, outcome = claimed.job, claimed.outcome
    assert outcome.state is not None
    assert outcome.lease_id is not None
    answer = wm.WorkerAnswer.of(outcome.job_id, outcome.version, outcome.state)
    return wm.ClaimedJob(
        **answer.model_dump(),
        lease_id=outcome.lease_id,
        correlation_id=claimed.workflow,
        type=job.job_type,
        priority=job.priority,
        pool=job.pool,
        investigation_id=job.investigation_id,
        inputs=[InputOut.model_validate(i) for i in job.inputs],
        config=job.config,
    )


def _scoped(principal: Principal, scope: str, command_id: str) -> str:
    """Command ids are the caller's own, in a scope: "claim", or a worker command's job."""
    return f"worker:{caller_key(principal)}:{scope}:{command_id}"


@dataclass(frozen=True)
class Command:
    """One worker endpoint: its body, what it does, and the Ledger call that does it."""

    body: type[wm.LeasedCommand]
    summary: str
    run: Callable[[Ledger, Actor, UUID, Any, CommandMeta], Outcome]


def _counts(body: wm.PreliminaryFindings) -> dict[str, int]:
    return body.counts()


COMMANDS: dict[str, Command] = {
    "start": Command(
        wm.LeasedCommand,
        "Start the claimed job",
        lambda ledger, actor, job, body, meta: ledger.start(
            actor, job, lease_id=body.lease_id, meta=meta
        ),
    ),
    "progress": Command(
        wm.Progress,
        "Report progress (never decreasing)",
        lambda ledger, actor, job, body, meta: ledger.report_progress(
            actor,
            job,
            lease_id=body.lease_id,
            percent=body.percent,
            message=body.message,
            meta=meta,
        ),
    ),
    "findings": Command(
        wm.PreliminaryFindings,
        "Report preliminary finding counts",
        lambda ledger, actor, job, body, meta: ledger.report_progress(
            actor, job, lease_id=body.lease_id, findings=_counts(body), meta=meta
        ),
    ),
    "usage": Command(
        wm.Usage,
        "Record model usage (priced by the price book)",
        lambda ledger, actor, job, body, meta: ledger.record_usage(
            actor,
            job,
            lease_id=body.lease_id,
            model=body.model,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            cached_input_tokens=body.cached_input_tokens,
            meta=meta,
        ),
    ),
    "heartbeat": Command(
        wm.Heartbeat,
        "Renew the lease",
        lambda ledger, actor, job, body, meta: ledger.heartbeat(
            actor, job, lease_id=body.lease_id, lease_seconds=body.lease_seconds, meta=meta
        ),
    ),
    "validation": Command(
        wm.LeasedCommand,
        "Begin validating the output",
        lambda ledger, actor, job, body, meta: ledger.begin_validation(
            actor, job, lease_id=body.lease_id, meta=meta
        ),
    ),
    "upload": Command(
        wm.LeasedCommand,
        "Begin uploading the output",
        lambda ledger, actor, job, body, meta: ledger.begin_upload(
            actor, job, lease_id=body.lease_id, meta=meta
        ),
    ),
    "complete": Command(
        wm.Complete,
        "Complete the job with its result",
        lambda ledger, actor, job, body, meta: ledger.complete(
            actor, job, lease_id=body.lease_id, result=body.result, meta=meta
        ),
    ),
    "fail": Command(
        wm.Fail,
        "Fail the attempt (a retryable failure with attempts left is retried)",
        lambda ledger, actor, job, body, meta: ledger.fail(
            actor,
            job,
            lease_id=body.lease_id,
            code=body.code,
            message=body.message,
            retryable=body.retryable,
            meta=meta,
        ),
    ),
    "release": Command(
        wm.Release,
        "Hand a claimed job back to the queue",
        lambda ledger, actor, job, body, meta: ledger.release(
            actor, job, lease_id=body.lease_id, reason=body.reason, meta=meta
        ),
    ),
    "cancellation-ack": Command(
        wm.LeasedCommand,
        "Acknowledge a requested cancel: the job is cancelled",
        lambda ledger, actor, job, body, meta: ledger.acknowledge_cancellation(
            actor, job, lease_id=body.lease_id, meta=meta
        ),
    ),
}


def _endpoint(command: Command) -> Callable[..., Awaitable[wm.WorkerAnswer]]:
    """The route function of one command: it runs under the caller's command id and
    correlation id (else the job's workflow) and answers where the job stands."""

    async def endpoint(
        job_id: UUID, body: wm.LeasedCommand, caller: Worker, request: Request, response: Response
    ) -> wm.WorkerAnswer:
        ledger = services_of(request).ledger
        workflow, outcome = await run_in_threadpool(
            _record, command, ledger, caller.principal, job_id, body, caller.correlation_id
        )
        echo(response, workflow)
        if outcome.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        assert outcome.state is not None
        response.headers["ETag"] = f'"{outcome.version}"'
        return wm.WorkerAnswer.of(outcome.job_id, outcome.version, outcome.state)

    endpoint.__annotations__["body"] = command.body  # FastAPI reads the body model here
    return endpoint


def _record(
    command: Command,
    ledger: Ledger,
    principal: Principal,
    job_id: UUID,
    body: wm.LeasedCommand,
    correlation_id: str | None,
) -> tuple[str, Outcome]:
    """What blocks on the store, in one worker thread: the job's workflow (unless the
    caller named one), then the command."""
    workflow = correlation_id or job_workflow(ledger, job_id, principal.tenant)
    meta = CommandMeta(
        correlation_id=workflow, command_id=_scoped(principal, str(job_id), body.command_id)
    )
    return workflow, command.run(ledger, principal.actor, job_id, body, meta)


for _action, _command in COMMANDS.items():
    router.post(
        f"/{{job_id}}/{_action}",
        summary=_command.summary,
        responses=ERRORS,
        name=_action.replace("-", "_"),
    )(_endpoint(_command))
