"""Batches: several jobs submitted, or several claimed, by one request.

A batch submit is checked whole first: a body that is not valid (an item's field, too
many items, a malformed key) is a 422 naming the item's index, and records nothing.
A valid batch is answered item by item, in order: each item is submitted, or repeated
(its idempotency key seen before), or refused on its own (its key reused with another
body: that item's 409), and the others are not held back by it. The new jobs are
stored in one transaction.

A batch claim takes up to ``max`` jobs, each under its own lease; with a ``commandId``
a repeat gets the same claims back (each claim has its own id, derived from it).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.correlation import echo, job_workflow
from jobledger.adapters.http.dispatch import Claimed, ClaimRequest
from jobledger.adapters.http.problems import responses, status_of
from jobledger.adapters.http.routes.jobs import Submitter, submission_of, submit_command_id
from jobledger.adapters.http.routes.workers import Worker, _scoped, claimed_job
from jobledger.adapters.http.schemas import batches as bm
from jobledger.adapters.http.services import Services, ServicesDep
from jobledger.domain.errors import JobLedgerError
from jobledger.domain.ledger import Outcome
from jobledger.domain.values import CommandMeta, new_correlation_id

router = APIRouter(tags=["batches"])


@router.post(
    "/v1/jobs/batch",
    summary="Submit several jobs, each answered on its own",
    response_model=bm.SubmitBatchAnswer,
    responses=responses(400, 401, 403, 413, 422),
)
async def submit_batch(
    body: bm.SubmitBatch,
    caller: Submitter,
    services: ServicesDep,
    response: Response,
) -> bm.SubmitBatchAnswer:
    """Each item may carry its own ``idempotencyKey``. Each job starts a workflow of
    its own, unless the request names one (``X-Correlation-ID``) for them all."""
    principal, correlation_id = caller.principal, caller.correlation_id
    if correlation_id is not None:
        echo(response, correlation_id)
    items = [
        submission_of(
            item,
            CommandMeta(
                correlation_id=correlation_id or new_correlation_id(),
                command_id=submit_command_id(
                    principal, item.idempotency_key, f"jobs.{index}.idempotencyKey"
                ),
            ),
        )
        for index, item in enumerate(body.jobs)
    ]
    answers = await run_in_threadpool(services.ledger.submit_many, principal.actor, items)
    outcomes = [_item(index, answer) for index, answer in enumerate(answers)]
    submitted = sum(1 for o in outcomes if o.status == 202 and not o.replayed)
    return bm.SubmitBatchAnswer(items=outcomes, submitted=submitted)


def _item(index: int, answer: Outcome | JobLedgerError) -> bm.BatchOutcome:
    if isinstance(answer, JobLedgerError):
        problem = bm.ItemProblem(code=answer.code, detail=str(answer))
        return bm.BatchOutcome(index=index, status=status_of(answer), problem=problem)
    return bm.BatchOutcome(
        index=index,
        status=202,
        job_id=answer.job_id,
        version=answer.version,
        job_status=None if answer.state is None else answer.state.status,
        location=f"/v1/jobs/{answer.job_id}",
        replayed=answer.replayed,
    )


@router.post(
    "/v1/claims/batch",
    tags=["workers"],
    summary="Claim up to max queued jobs, each under its own lease",
    response_model=bm.ClaimedJobs,
    responses=responses(400, 401, 403, 413, 422),
)
async def claim_batch(
    body: bm.ClaimJobs,
    caller: Worker,
    services: ServicesDep,
    response: Response,
) -> bm.ClaimedJobs:
    """The first claim holds the request up to ``waitSeconds``; the rest are then read,
    reserved (a process's claims never reach for the same job) and saved together, each
    under its own command id. Fewer than ``max`` (or none) when the queue runs dry."""
    principal, correlation_id = caller.principal, caller.correlation_id

    def request(n: int) -> ClaimRequest:
        return ClaimRequest(
            agent=body.agent,
            pool=body.pool,
            types=tuple(t.value for t in body.types),
            lease_seconds=body.lease_seconds,
            wait_seconds=body.wait_seconds if n == 0 else 0,
            command_id=None
            if body.command_id is None
            else _scoped(principal, "claims", f"{body.command_id}#{n}"),
            correlation_id=correlation_id,
        )

    first = await services.dispatcher.claim(principal.actor, request(0))
    if first is None:
        claims: list[Claimed] = []
    elif first.outcome.replayed:  # a repeat: the first answer's claims, and no more
        claims = [first]
        for n in range(1, 2 * body.max - 1):
            again = await run_in_threadpool(_replayed, services, principal, request(n))
            if again is not None:
                claims.append(again)
    else:  # the rest together: one read of candidates, one save
        more = [request(n) for n in range(1, 2 * body.max - 1)]
        claims = [
            first,
            *await services.dispatcher.claim_several(principal.actor, more, body.max - 1),
        ]
    if claims and claims[0].outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if correlation_id is not None:
        echo(response, correlation_id)
    return bm.ClaimedJobs(claims=[claimed_job(c) for c in claims])


def _replayed(services: Services, principal: Principal, request: ClaimRequest) -> Claimed | None:
    """The claim an earlier request made under this command id; None if it made none."""
    meta = CommandMeta(request.correlation_id or new_correlation_id(), request.command_id)
    outcome = services.ledger.claim_next(
        principal.actor,
        [],
        agent=request.agent,
        pool=request.pool,
        lease_seconds=request.lease_seconds,
        meta=meta,
    )
    if outcome is None:
        return None
    assert outcome.job is not None
    workflow = request.correlation_id or job_workflow(
        services.ledger, outcome.job_id, principal.tenant
    )
    return Claimed(outcome, outcome.job, workflow)
