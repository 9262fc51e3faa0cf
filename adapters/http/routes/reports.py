"""Statistics and costs of the caller's tenant, for dashboards and budgets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.envelope import cost_item, stats_item
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas.jobs import (
    Costs,
    Daily,
    DailyItem,
    IsoDate,
    Money,
    SplitCostItem,
    SplitCosts,
    Stats,
)
from jobledger.adapters.http.security import READERS, allowed
from jobledger.adapters.http.services import ServicesDep
from jobledger.adapters.store.sql.read_store import CostQuery, StatsQuery, parse_query
from jobledger.domain.results import JobType

router = APIRouter(prefix="/v1", tags=["reports"])
TenantReader = Annotated[Principal, Depends(allowed(*READERS, to="read statistics and costs"))]
Since = Annotated[IsoDate | None, Query(description="first UTC day included, e.g. 2026-11-01")]
Until = Annotated[IsoDate | None, Query(description="last UTC day included")]


def _stats_query(
    principal: TenantReader,
    type: Annotated[JobType | None, Query()] = None,
    since: Since = None,
    until: Until = None,
) -> StatsQuery:
    """The statistics routes' shared parameters: the caller's tenant, a type, days."""
    job_type = type.value if type else None
    return parse_query(
        StatsQuery, tenant=principal.tenant, job_type=job_type, since=since, until=until
    )


StatsScope = Annotated[StatsQuery, Depends(_stats_query)]


@router.get(
    "/stats",
    summary="Jobs by status, durations, tokens and cost",
    responses=responses(401, 403, 422),
)
async def stats(query: StatsScope, services: ServicesDep) -> Stats:
    async with services.reads.store() as store:
        answer = await store.statistics(query)
    items = [stats_item(row, services.currency) for row in answer.value]
    return Stats(items=items, position=answer.position)


@router.get(
    "/stats/daily",
    summary="Jobs submitted and ended, and cost, per UTC day",
    responses=responses(401, 403, 422),
)
async def daily(query: StatsScope, services: ServicesDep) -> Daily:
    async with services.reads.store() as store:
        answer = await store.daily(query)
    items = [
        DailyItem(
            day=row.day,
            submitted=row.submitted,
            completed=row.completed,
            failed=row.failed,
            cancelled=row.cancelled,
            retried=row.retried,
            cost=Money.of(row.cost, services.currency),
            unpriced_usages=row.unpriced_usages,
        )
        for row in answer.value
    ]
    return Daily(items=items, position=answer.position)


@router.get(
    "/costs",
    summary="Token usage and cost, grouped one way (per day: split by model or investigation)",
    responses=responses(401, 403, 422),
)
async def costs(
    principal: TenantReader,
    services: ServicesDep,
    group_by: Annotated[
        Literal["tenant", "investigation", "model", "day", "action", "tool"],
        Query(alias="groupBy"),
    ] = "tenant",
    split: Annotated[
        Literal["model", "investigation"] | None,
        Query(description="with groupBy=day: one item per day and model (or investigation)"),
    ] = None,
    since: Since = None,
    until: Until = None,
) -> Costs | SplitCosts:
    query = parse_query(
        CostQuery,
        group_by=group_by,
        split=split,
        tenant=principal.tenant,
        since=since,
        until=until,
    )
    async with services.reads.store() as store:
        answer = await store.costs(query)
    items = [cost_item(total, services.currency) for total in answer.value]
    if split is None:
        return Costs(group_by=group_by, items=items, position=answer.position)
    parts = [
        SplitCostItem(**dict(item), split=total.split)
        for item, total in zip(items, answer.value, strict=True)
    ]
    return SplitCosts(group_by="day", split=split, items=parts, position=answer.position)
