"""Statistics and costs of the caller's tenant, for dashboards and budgets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.envelope import cost_item, stats_item
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas.jobs import Costs, IsoDate, Stats
from jobledger.adapters.http.security import READERS, allowed
from jobledger.adapters.http.services import ServicesDep
from jobledger.adapters.store.sql.read_store import CostQuery, StatsQuery, parse_query
from jobledger.domain.results import JobType

router = APIRouter(prefix="/v1", tags=["reports"])
TenantReader = Annotated[Principal, Depends(allowed(*READERS, to="read statistics and costs"))]
Since = Annotated[IsoDate | None, Query(description="first UTC day included, e.g. 2026-11-01")]
Until = Annotated[IsoDate | None, Query(description="last UTC day included")]


@router.get(
    "/stats",
    summary="Jobs by status, durations, tokens and cost",
    responses=responses(401, 403, 422),
)
async def stats(
    principal: TenantReader,
    services: ServicesDep,
    type: Annotated[JobType | None, Query()] = None,
    since: Since = None,
    until: Until = None,
) -> Stats:
    query = parse_query(
        StatsQuery,
        tenant=principal.tenant,
        job_type=type.value if type else None,
        since=since,
        until=until,
    )
    async with services.reads.store() as store:
        answer = await store.statistics(query)
    items = [stats_item(row, services.currency) for row in answer.value]
    return Stats(items=items, position=answer.position)


@router.get(
    "/costs", summary="Token usage and cost, grouped one way", responses=responses(401, 403, 422)
)
async def costs(
    principal: TenantReader,
    services: ServicesDep,
    group_by: Annotated[
        Literal["tenant", "investigation", "model", "day"], Query(alias="groupBy")
    ] = "tenant",
    since: Since = None,
    until: Until = None,
) -> Costs:
    query = parse_query(
        CostQuery, group_by=group_by, tenant=principal.tenant, since=since, until=until
    )
    async with services.reads.store() as store:
        answer = await store.costs(query)
    items = [cost_item(total, services.currency) for total in answer.value]
    return Costs(group_by=group_by, items=items, position=answer.position)
