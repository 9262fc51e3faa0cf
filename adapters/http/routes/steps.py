"""An agent's steps and the analysis report built from them.

A worker appends steps under its lease like any worker command (``leaseId``,
``commandId``); readers list them, or read the report, which can long-poll until the
job is final exactly as the envelope's ``wait`` does.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.answers import json_answer
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.report import recorded_step, report
from jobledger.adapters.http.routes.jobs import Reader, wait_until_terminal
from jobledger.adapters.http.routes.workers import ERRORS, Command, _endpoint
from jobledger.adapters.http.schemas import steps as sm
from jobledger.adapters.http.services import Services, ServicesDep
from jobledger.domain import events as ev
from jobledger.domain.bounds import (
    REPORT_WAIT_DEFAULT_SECONDS,
    REPORT_WAIT_MAX_SECONDS,
    REPORT_WAIT_MIN_SECONDS,
)
from jobledger.projections.base import Row
from jobledger.projections.steps import step_rows

router = APIRouter(prefix="/v1/jobs", tags=["steps"])

APPEND = Command(
    sm.AppendSteps,
    "Append the agent's steps (one or a batch, recorded whole or not at all)",
    lambda ledger, actor, job, body, meta: ledger.append_steps(
        actor, job, lease_id=body.lease_id, steps=body.steps, meta=meta
    ),
)
router.post(
    "/{job_id}/steps",
    summary=APPEND.summary,
    responses=ERRORS,
    name="append_steps",
    tags=["workers"],
)(_endpoint(APPEND))


@router.get(
    "/{job_id}/steps",
    summary="A job's agent steps, in the order recorded, with tokens and cost",
    response_model=sm.JobSteps,
    responses=responses(401, 403, 404, 422),
)
async def list_steps(
    job_id: UUID, principal: Reader, services: ServicesDep, response: Response
) -> Response:
    _, position, projected = await services.visible_job(principal, job_id)
    rows, position = await _steps(services, principal, job_id, projected, position)
    items = [recorded_step(row, services.currency) for row in rows]
    return json_answer({"jobId": str(job_id), "items": items, "position": position}, response)


@router.get(
    "/{job_id}/report",
    summary="The analysis report (optionally waiting until the job is final)",
    response_model=sm.AnalysisReport,
    responses=responses(401, 403, 404, 422),
)
async def get_report(
    job_id: UUID,
    principal: Reader,
    services: ServicesDep,
    response: Response,
    wait: Annotated[
        bool,
        Query(alias="waitForReport", description="hold the request until the job is final"),
    ] = False,
    timeout: Annotated[
        int,
        Query(
            alias="timeoutSeconds",
            ge=REPORT_WAIT_MIN_SECONDS,
            le=REPORT_WAIT_MAX_SECONDS,
            description="seconds to wait at most",
        ),
    ] = REPORT_WAIT_DEFAULT_SECONDS,
) -> Response:
    if wait:
        await wait_until_terminal(services, principal, job_id, timeout)
    row, position, projected = await services.visible_job(principal, job_id)
    rows, _ = await _steps(services, principal, job_id, projected, position)
    envelope = await services.envelope(principal, row)
    response.headers["ETag"] = f'"{row["version"]}"'
    return json_answer(report(row, envelope["result"], rows), response)


async def _steps(
    services: Services, principal: Principal, job_id: UUID, projected: bool, position: int
) -> tuple[list[Row], int]:
    """From the read model; folded from the job's events when it has not reached the job."""
    if projected:
        async with services.reads.store() as store:
            answer = await store.steps(job_id, principal.tenant)
        return answer.value, answer.position
    events = await run_in_threadpool(services.ledger.job_events, job_id, tenant=principal.tenant)
    return _folded(events), position


def _folded(events: list[ev.JobEvent]) -> list[Row]:
    found: list[Row] = []
    for event in events:
        if isinstance(event, ev.StepsAppended):
            found += step_rows(event, 0)
    return found
