"""The worker protocol: claim a job, then report on it under the lease the claim gave.

Every command carries ``leaseId`` (a stale one is a 409 naming the job's state and
lease state) and ``commandId`` (a retry gets the first answer). Every answer says
whether a cancel was asked and how long the renewed lease runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from jobledger.adapters.auth import Principal, Role
from jobledger.adapters.http import worker_models as wm
from jobledger.adapters.http.dispatch import ClaimRequest
from jobledger.adapters.http.models import InputOut
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.security import allowed
from jobledger.adapters.http.services import ServicesDep
from jobledger.domain.ledger import Outcome
from jobledger.domain.values import CommandMeta

claims = APIRouter(prefix="/v1/claims", tags=["workers"])
router = APIRouter(prefix="/v1/jobs", tags=["workers"])

Endpoint = Callable[..., wm.WorkerAnswer]
Worker = Annotated[Principal, Depends(allowed(Role.WORKER, to="claim and run jobs"))]
ERRORS = responses(400, 401, 403, 404, 409, 413, 422)


@claims.post(
    "",
    summary="Claim the next queued job",
    response_model=wm.ClaimedJob,
    responses={204: {"description": "Nothing to claim"}, **responses(400, 401, 403, 413, 422)},
)
async def claim(
    body: wm.ClaimJob, principal: Worker, services: ServicesDep
) -> wm.ClaimedJob | Response:
    """Highest priority first, then oldest; jobs waiting out a retry's back-off are
    skipped until due. With ``waitSeconds``, an empty queue holds the request."""
    request = ClaimRequest(
        agent=body.agent,
        pool=body.pool,
        types=tuple(t.value for t in body.types),
        lease_seconds=body.lease_seconds,
        wait_seconds=body.wait_seconds,
    )
    claimed = await services.dispatcher.claim(principal.actor, request)
    if claimed is None:
        return Response(status_code=204)
    job, outcome = claimed.job, claimed.outcome
    assert outcome.state is not None
    assert outcome.lease_id is not None
    answer = wm.WorkerAnswer.of(outcome.job_id, outcome.version, outcome.state)
    return wm.ClaimedJob(
        **answer.model_dump(),
        lease_id=outcome.lease_id,
        type=job.job_type,
        priority=job.priority,
        pool=job.pool,
        investigation_id=job.investigation_id,
        inputs=[InputOut.model_validate(i) for i in job.inputs],
        config=job.config,
    )


def _answer(
    principal: Principal,
    response: Response,
    body: wm.LeasedCommand,
    run: Callable[[CommandMeta], Outcome],
) -> wm.WorkerAnswer:
    """Run a command under the caller's command id and answer where the job stands."""
    caller = hashlib.sha256(principal.subject.encode()).hexdigest()[:16]
    outcome = run(CommandMeta(command_id=f"worker:{caller}:{body.command_id}"))
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    state = outcome.state
    assert state is not None
    response.headers["ETag"] = f'"{outcome.version}"'
    return wm.WorkerAnswer.of(outcome.job_id, outcome.version, state)


def _command(action: str, summary: str) -> Callable[[Endpoint], Endpoint]:
    return router.post(f"/{{job_id}}/{action}", summary=summary, responses=ERRORS)


@_command("start", "Start the claimed job")
def start(
    job_id: UUID,
    body: wm.LeasedCommand,
    principal: Worker,
    services: ServicesDep,
    response: Response,
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.start(
            principal.actor, job_id, lease_id=body.lease_id, meta=meta
        ),
    )


@_command("progress", "Report progress (never decreasing)")
def progress(
    job_id: UUID, body: wm.Progress, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.report_progress(
            principal.actor,
            job_id,
            lease_id=body.lease_id,
            percent=body.percent,
            message=body.message,
            meta=meta,
        ),
    )


@_command("findings", "Report preliminary finding counts")
def findings(
    job_id: UUID,
    body: wm.PreliminaryFindings,
    principal: Worker,
    services: ServicesDep,
    response: Response,
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.report_progress(
            principal.actor, job_id, lease_id=body.lease_id, findings=body.counts(), meta=meta
        ),
    )


@_command("usage", "Record model usage (priced by the price book)")
def usage(
    job_id: UUID, body: wm.Usage, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.record_usage(
            principal.actor,
            job_id,
            lease_id=body.lease_id,
            model=body.model,
            input_tokens=body.input_tokens,
            output_tokens=body.output_tokens,
            cached_input_tokens=body.cached_input_tokens,
            meta=meta,
        ),
    )


@_command("heartbeat", "Renew the lease")
def heartbeat(
    job_id: UUID, body: wm.Heartbeat, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.heartbeat(
            principal.actor,
            job_id,
            lease_id=body.lease_id,
            lease_seconds=body.lease_seconds,
            meta=meta,
        ),
    )


@_command("validation", "Begin validating the output")
def validation(
    job_id: UUID,
    body: wm.LeasedCommand,
    principal: Worker,
    services: ServicesDep,
    response: Response,
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.begin_validation(
            principal.actor, job_id, lease_id=body.lease_id, meta=meta
        ),
    )


@_command("upload", "Begin uploading the output")
def upload(
    job_id: UUID,
    body: wm.LeasedCommand,
    principal: Worker,
    services: ServicesDep,
    response: Response,
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.begin_upload(
            principal.actor, job_id, lease_id=body.lease_id, meta=meta
        ),
    )


@_command("complete", "Complete the job with its result")
def complete(
    job_id: UUID, body: wm.Complete, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.complete(
            principal.actor, job_id, lease_id=body.lease_id, result=body.result, meta=meta
        ),
    )


@_command("fail", "Fail the attempt (a retryable failure with attempts left is retried)")
def fail(
    job_id: UUID, body: wm.Fail, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.fail(
            principal.actor,
            job_id,
            lease_id=body.lease_id,
            code=body.code,
            message=body.message,
            retryable=body.retryable,
            meta=meta,
        ),
    )


@_command("release", "Hand a claimed job back to the queue")
def release(
    job_id: UUID, body: wm.Release, principal: Worker, services: ServicesDep, response: Response
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.release(
            principal.actor, job_id, lease_id=body.lease_id, reason=body.reason, meta=meta
        ),
    )


@_command("cancellation-ack", "Acknowledge a requested cancel: the job is cancelled")
def cancellation_ack(
    job_id: UUID,
    body: wm.LeasedCommand,
    principal: Worker,
    services: ServicesDep,
    response: Response,
) -> wm.WorkerAnswer:
    return _answer(
        principal,
        response,
        body,
        lambda meta: services.ledger.acknowledge_cancellation(
            principal.actor, job_id, lease_id=body.lease_id, meta=meta
        ),
    )
