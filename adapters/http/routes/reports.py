"""Statistics and costs of the caller's tenant, for dashboards and budgets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas.jobs import (
    CostItem,
    Costs,
    Durations,
    IsoDate,
    Money,
    Stats,
    StatsItem,
    Tokens,
)
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
    currency = services.currency
    items = [
        StatsItem(
            tenant_id=row.tenant,
            type=row.job_type,
            status_counts=row.status_counts,
            queue_depth=row.queue_depth,
            working=row.working,
            submitted=row.submitted,
            completed=row.completed,
            failed=row.failed,
            cancelled=row.cancelled,
            retried=row.retried,
            failure_rate=row.failure_rate,
            tokens=Tokens.of(row),
            cost=Money.of(row.cost, currency),
            unpriced_usages=row.unpriced_usages,
            run_ms=Durations(average=row.run_ms_average, p50=row.run_ms_p50, p95=row.run_ms_p95),
            queue_wait_ms=Durations(
                average=row.queue_wait_ms_average,
                p50=row.queue_wait_ms_p50,
                p95=row.queue_wait_ms_p95,
            ),
        )
        for row in answer.value
    ]
    return Stats(items=items, position=answer.position)


@router.get(
    "/costs", summary="Token usage and cost, grouped one way", responses=responses(401, 403, 422)
)
async def costs(
    principal: TenantReader,
    services: ServicesDep,
    group_by: Annotated[
        Literal["tenant", "investigation", "model", "day", "action", "tool"],
        Query(alias="groupBy"),
    ] = "tenant",
    since: Since = None,
    until: Until = None,
) -> Costs:
    query = parse_query(
        CostQuery, group_by=group_by, tenant=principal.tenant, since=since, until=until
    )
    async with services.reads.store() as store:
        answer = await store.costs(query)
    currency = services.currency
    items = [
        CostItem(
            key=total.key,
            usages=total.usages,
            tokens=Tokens.of(total),
            cost=Money.of(total.cost, currency),
            unsuccessful_cost=Money.of(total.unsuccessful_cost, currency),
            unpriced_usages=total.unpriced_usages,
        )
        for total in answer.value
    ]
    return Costs(group_by=group_by, items=items, position=answer.position)
