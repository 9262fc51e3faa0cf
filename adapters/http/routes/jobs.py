"""Submitting, reading, waiting on, listing and cancelling jobs."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.policy import SUBMITTERS
from jobledger.adapters.auth.tokens import Forbidden, Principal
from jobledger.adapters.http.answers import blank_response, json_answer
from jobledger.adapters.http.correlation import echo
from jobledger.adapters.http.envelope import shaped, summary_of
from jobledger.adapters.http.problems import PreconditionFailed, responses
from jobledger.adapters.http.schemas.jobs import (
    CancelJob,
    IsoDateTime,
    JobEnvelope,
    JobHistory,
    JobPage,
    SubmitJob,
)
from jobledger.adapters.http.security import (
    CANCELLERS,
    JOB_READERS,
    AllowedCaller,
    Caller,
    allowed,
    caller_key,
    may_cancel,
    may_see,
    only_own,
)
from jobledger.adapters.http.services import Services, ServicesDep, services_of
from jobledger.adapters.store.sql.read_store import (
    Cursor,
    JobQuery,
    Order,
    PageSize,
    parse_query,
)
from jobledger.domain.bounds import Identifier, Name, Subject
from jobledger.domain.errors import InvalidCommand, JobNotFound
from jobledger.domain.ledger import Outcome, Submission
from jobledger.domain.lifecycle import TERMINAL, JobStatus
from jobledger.domain.results import JobType
from jobledger.domain.values import CommandMeta, new_correlation_id

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

Submitter = Annotated[Caller, Depends(AllowedCaller(*SUBMITTERS, to="submit jobs"))]
Reader = Annotated[Principal, Depends(allowed(*JOB_READERS, to="read jobs"))]
Canceller = Annotated[Caller, Depends(AllowedCaller(*CANCELLERS, to="cancel jobs"))]
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
ETAG = re.compile(r'^(W/)?"(\d+)"$')
AUTH = (401, 403)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post(
    "",
    status_code=202,
    summary="Submit a job",
    response_model=JobEnvelope,
    responses=responses(400, *AUTH, 409, 413, 422),
)
async def submit(
    body: SubmitJob,
    caller: Submitter,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(description="repeat a submit safely: the same key and body give the first answer"),
    ] = None,
) -> Response:
    principal, services = caller.principal, services_of(request)
    meta = CommandMeta(
        correlation_id=echo(response, caller.correlation_id or new_correlation_id()),
        command_id=submit_command_id(principal, idempotency_key, "Idempotency-Key"),
    )
    outcome, envelope = await run_in_threadpool(submit_job, services, principal, body, meta)
    response.headers["Location"] = f"/v1/jobs/{outcome.job_id}"
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    _etag(response, envelope["version"])
    return json_answer(envelope, response, 202)


def submit_command_id(principal: Principal, key: str | None, field: str) -> str | None:
    """The command id an idempotency key stands for: scoped to the caller."""
    if key is None:
        return None
    if not KEY.match(key):
        raise InvalidCommand(f"{field}: 1 to 200 printable ASCII characters")
    return f"submit:{caller_key(principal)}:{key}"


def submission_of(body: SubmitJob, meta: CommandMeta) -> Submission:
    """A submit body (alone, or an item of a batch) as the ledger takes it."""
    return Submission(
        body.type.value,
        investigation_id=body.investigation_id,
        priority=body.priority,
        max_attempts=body.max_attempts,
        pool=body.pool,
        inputs=[i.model_dump(exclude_none=True) for i in body.inputs],
        config=body.config,
        metadata=body.metadata,
        subject=body.subject,
        workers=body.workers or (),
        meta=meta,
    )


def submit_job(
    services: Services, principal: Principal, body: SubmitJob, meta: CommandMeta
) -> tuple[Outcome, dict[str, Any]]:
    """What blocks on the store, in one worker thread: the submit, then its answer
    (GraphQL's ``submitJob`` runs it too)."""
    outcome = services.ledger.submit_one(principal.actor, submission_of(body, meta))
    return outcome, services.envelope_at(principal, outcome.job_id, outcome.version)


@router.get("", summary="List jobs", response_model=JobPage, responses=responses(*AUTH, 422))
async def list_jobs(
    principal: Reader,
    services: ServicesDep,
    response: Response,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    type: Annotated[JobType | None, Query()] = None,
    investigation_id: Annotated[Identifier | None, Query(alias="investigationId")] = None,
    created_by: Annotated[Subject | None, Query(alias="createdBy")] = None,
    agent: Annotated[Name | None, Query()] = None,
    created_after: Annotated[IsoDateTime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[IsoDateTime | None, Query(alias="createdBefore")] = None,
    mine: bool = False,
    limit: Annotated[PageSize, Query()] = 50,
    cursor: Annotated[Cursor | None, Query()] = None,
    order: Annotated[Order, Query()] = "newest",
) -> Response:
    """An analyst's list holds only the jobs they created."""
    if mine or only_own(principal):
        if created_by not in (None, principal.subject):  # an analyst sees no one else's jobs
            return json_answer(_page([], None, services.feed.position), response)
        created_by = principal.subject
    query = parse_query(
        JobQuery,
        tenant=principal.tenant,
        status=status,
        job_type=type.value if type else None,
        investigation_id=investigation_id,
        created_by=created_by,
        agent=agent,
        created_after=created_after,
        created_before=created_before,
        limit=limit,
        cursor=cursor,
        order=order,
    )
    async with services.reads.store() as store:
        page = await store.list_jobs(query)
    items = [summary_of(row, services.currency) for row in page.items]
    return json_answer(_page(items, page.next_cursor, page.position), response)


def _page(items: list[dict[str, Any]], next_cursor: str | None, position: int) -> dict[str, Any]:
    return shaped(JobPage, {"items": items, "next_cursor": next_cursor, "position": position})


@router.get(
    "/{job_id}",
    summary="Get a job (optionally waiting until it finishes)",
    response_model=JobEnvelope,
    responses=responses(*AUTH, 404, 422),
)
async def get_job(
    job_id: UUID,
    principal: Reader,
    services: ServicesDep,
    response: Response,
    wait: Annotated[bool, Query(description="hold the request until the job is terminal")] = False,
    timeout: Annotated[int, Query(ge=1, le=300, description="seconds to wait at most")] = 30,
) -> Response:
    if not wait:
        return await read_job(services, principal, job_id)
    row = await wait_until_terminal(services, principal, job_id, timeout)
    return await envelope_answer(services, principal, row, response)


async def read_job(services: Services, principal: Principal, job_id: UUID) -> Response:
    """GET /v1/jobs/{id} without ``wait``: also what ``fast_path`` answers with."""
    row, _, _ = await services.visible_job(principal, job_id)
    return await envelope_answer(services, principal, row, blank_response())


async def envelope_answer(
    services: Services, principal: Principal, row: dict[str, Any], response: Response
) -> Response:
    """The job's envelope as the answer, its version as the ETag."""
    _etag(response, row["version"])
    return json_answer(await services.envelope(principal, row), response)


async def wait_until_terminal(
    services: ServicesDep, principal: Principal, job_id: UUID, timeout: float
) -> dict[str, object]:
    """Watch first, then read: a change between the read and the wait wakes the waiter."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with services.feed.watch(str(job_id)) as changed:
        row, _, _ = await services.visible_job(principal, job_id)
        while row["status"] not in TERMINAL:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                break
            changed.clear()
            row, _, _ = await services.visible_job(principal, job_id)
    return row


@router.get(
    "/{job_id}/history", summary="A job's status history", responses=responses(*AUTH, 404, 422)
)
async def history(job_id: UUID, principal: Reader, services: ServicesDep) -> JobHistory:
    await services.visible_job(principal, job_id)
    async with services.reads.store() as store:
        try:
            answer = await store.history(job_id, principal.tenant)
        except JobNotFound:  # the read model has not reached it yet
            return JobHistory(job_id=job_id, items=[], position=services.feed.position)
    return JobHistory.model_validate(
        {"job_id": job_id, "items": answer.value, "position": answer.position}
    )


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job (a running one is asked to stop)",
    response_model=JobEnvelope,
    responses={
        202: {"model": JobEnvelope, "description": "Running: its worker is asked to stop"},
        **responses(400, *AUTH, 404, 409, 412, 413, 422),
    },
)
async def cancel(
    job_id: UUID,
    caller: Canceller,
    services: ServicesDep,
    response: Response,
    body: CancelJob | None = None,
    if_match: Annotated[
        str | None, Header(description='cancel only if the job is still at this ETag, e.g. "3"')
    ] = None,
) -> Response:
    correlation = echo(response, caller.correlation_id or new_correlation_id())
    reason = (body or CancelJob()).reason
    envelope = await run_in_threadpool(
        cancel_job, services, caller.principal, job_id, reason, correlation, if_match
    )
    _etag(response, envelope["version"])
    # asked to stop: the worker acknowledges
    return json_answer(envelope, response, 200 if envelope["status"] in TERMINAL else 202)


def cancel_job(
    services: Services,
    principal: Principal,
    job_id: UUID,
    reason: str,
    correlation_id: str,
    if_match: str | None,
) -> dict[str, Any]:
    """What blocks on the store, in one worker thread: the checks, the cancel, its answer
    (GraphQL's ``cancelJob`` runs it too)."""
    job = services.ledger.get(job_id, tenant=principal.tenant)
    if not may_see(principal, job.tenant, job.created_by):
        raise JobNotFound(job_id)
    if not may_cancel(principal, job.created_by):
        raise Forbidden("only an admin, or the analyst who submitted it, may cancel this job")
    expected = _expected_version(if_match, job_id, job.version)
    outcome = services.ledger.cancel(
        principal.actor,
        job_id,
        reason=reason,
        meta=CommandMeta(correlation_id=correlation_id, expected_version=expected),
    )
    return services.envelope_at(principal, job_id, outcome.version)


def _expected_version(if_match: str | None, job_id: UUID, version: int) -> int | None:
    """If-Match compares strongly (RFC 9110): a weak tag never matches; of a list, the
    tag naming the current version does."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = [tag.strip() for tag in if_match.split(",")]
    if not all(ETAG.match(tag) for tag in tags):
        raise InvalidCommand('If-Match: expected ETags this API gave, e.g. "3"')
    strong = [int(tag.strip('"')) for tag in tags if not tag.startswith("W/")]
    if version in strong:
        return version  # the write is still conditional on nobody writing first
    raise PreconditionFailed(
        f"job {job_id} is at version {version}, not {' or '.join(tags)}", version
    )
