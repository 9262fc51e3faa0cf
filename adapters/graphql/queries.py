"""What can be read: the same answers as REST's GET routes, under the same role rules."""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Any, get_args
from uuid import UUID

import strawberry

from jobledger.adapters.graphql.connection import JobConnection, JobFilter, jobs_page
from jobledger.adapters.graphql.context import Context
from jobledger.adapters.graphql.enums import JobType
from jobledger.adapters.graphql.permissions import MayReadJobs, MayReadTenant
from jobledger.adapters.graphql.types import CostTotal, Job, Me, Statistics, job_of
from jobledger.adapters.http.envelope import cost_item, stats_item, summary_of
from jobledger.adapters.http.schemas.jobs import Costs
from jobledger.adapters.store.sql.read_store import CostQuery, StatsQuery, parse_query
from jobledger.domain.errors import JobNotFound

Info = strawberry.Info[Context, None]
GROUPINGS = get_args(Costs.model_fields["group_by"].annotation)  # REST's groupBy values
_Grouping: Any = enum.Enum("CostGrouping", {value.upper(): value for value in GROUPINGS})  # type: ignore[misc]
CostGrouping: Any = strawberry.enum(_Grouping, description="how costs are grouped")


@strawberry.input
class StatisticsFilter:
    type: JobType | None = None  # type: ignore[valid-type]
    since: date | None = strawberry.field(default=None, description="first UTC day included")
    until: date | None = strawberry.field(default=None, description="last UTC day included")


@strawberry.type
class Query:
    @strawberry.field(description="the caller, as their token names them")
    def me(self, info: Info) -> Me:
        principal = info.context.principal
        return Me(
            subject=principal.subject,
            tenant=principal.tenant,
            roles=sorted(principal.roles),
        )

    @strawberry.field(
        description="a job; null when there is none the caller may see",
        permission_classes=[MayReadJobs],
    )
    async def job(self, info: Info, id: UUID) -> Job | None:
        context = info.context
        try:
            row, _, _ = await context.services.visible_job(context.principal, id)
        except JobNotFound:
            return None
        return job_of(summary_of(row, context.services.currency))

    @strawberry.field(
        description="jobs the caller may see, newest first (Relay: first/after, last/before)",
        permission_classes=[MayReadJobs],
    )
    async def jobs(
        self,
        info: Info,
        filter: JobFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> JobConnection:
        return await jobs_page(info.context, filter, first, after, last, before)

    @strawberry.field(
        description="jobs by status, durations, tokens and cost, per job type",
        permission_classes=[MayReadTenant],
    )
    async def statistics(
        self, info: Info, filter: StatisticsFilter | None = None
    ) -> list[Statistics]:  # type: ignore[valid-type]
        given = filter or StatisticsFilter()
        context = info.context
        query = parse_query(
            StatsQuery,
            tenant=context.principal.tenant,
            job_type=given.type.value if given.type else None,
            since=given.since,
            until=given.until,
        )
        async with context.services.reads.store() as store:
            answer = await store.statistics(query)
        currency = context.services.currency
        return [Statistics.from_pydantic(stats_item(row, currency)) for row in answer.value]

    @strawberry.field(
        description="token usage and cost grouped one way, between two UTC days (inclusive)",
        permission_classes=[MayReadTenant],
    )
    async def costs(
        self,
        info: Info,
        group_by: CostGrouping = CostGrouping.TENANT,
        since: Annotated[date | None, strawberry.argument(name="from")] = None,
        until: Annotated[date | None, strawberry.argument(name="to")] = None,
    ) -> list[CostTotal]:  # type: ignore[valid-type]
        context = info.context
        query = parse_query(
            CostQuery,
            group_by=group_by.value,
            tenant=context.principal.tenant,
            since=since,
            until=until,
        )
        async with context.services.reads.store() as store:
            answer = await store.costs(query)
        currency = context.services.currency
        return [CostTotal.from_pydantic(cost_item(total, currency)) for total in answer.value]
