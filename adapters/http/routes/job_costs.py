"""One job's usage and cost by model and by attempt, for its details: whoever may read
the job may read what it cost, including the spend of attempts that failed."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from jobledger.adapters.http.envelope import cost_item
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.routes.jobs import Reader
from jobledger.adapters.http.schemas.jobs import JobCosts
from jobledger.adapters.http.services import ServicesDep
from jobledger.adapters.store.sql.read_store import CostQuery, parse_query

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}/costs",
    summary="A job's tokens and cost by model and by attempt",
    responses=responses(401, 403, 404, 422),
)
async def job_costs(job_id: UUID, principal: Reader, services: ServicesDep) -> JobCosts:
    await services.visible_job(principal, job_id)  # 404 unless the caller may see the job
    queries = [
        parse_query(CostQuery, group_by=by, tenant=principal.tenant, job_id=job_id)
        for by in ("model", "attempt")
    ]
    async with services.reads.store() as store:
        by_model = await store.costs(queries[0])
        by_attempt = await store.costs(queries[1])
    return JobCosts(
        job_id=job_id,
        by_model=[cost_item(t, services.currency) for t in by_model.value],
        by_attempt=[cost_item(t, services.currency) for t in by_attempt.value],
        position=min(by_model.position, by_attempt.position),
    )
