"""Live changes over graphql-transport-ws, fed by the change feed that wakes REST's
Server-Sent Events, and read by the same ``Follower``: no polling, and a subscription
given ``after`` (a position it was sent) resumes with no gap and no repeat."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.graphql.connection import JobFilter, query_of
from jobledger.adapters.graphql.context import Context
from jobledger.adapters.graphql.permissions import MayReadJobs
from jobledger.adapters.graphql.types import JobChange, job_of
from jobledger.adapters.http.envelope import summary_of
from jobledger.adapters.http.feed import EVERY_JOB
from jobledger.adapters.http.routes.streams import Follower
from jobledger.adapters.store.sql.read_store import JobQuery
from jobledger.projections.base import Row

Info = strawberry.Info[Context, None]
After = Annotated[
    int | None,
    strawberry.argument(description="resume after this position (one this API sent)"),
]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="one job's changes: its state now (unless resuming), then each change",
        permission_classes=[MayReadJobs],
    )
    async def job_updated(
        self, info: Info, id: UUID, after: After = None
    ) -> AsyncGenerator[JobChange, None]:
        context = info.context
        row, position, projected = await context.services.visible_job(context.principal, id)
        follower = Follower(context.services, context.principal, after=0, job_id=str(id))
        if after is not None:
            follower.after = after
        elif not projected:
            follower.after = position
        else:
            follower.after = row["position"]
            yield _change(context, row["position"], "Snapshot", row)
        async for change in _follow(context, follower, None):
            yield change

    @strawberry.subscription(
        description="changes to every job the caller may see that matches the filter",
        permission_classes=[MayReadJobs],
    )
    async def jobs_updated(
        self, info: Info, filter: JobFilter | None = None, after: After = None
    ) -> AsyncGenerator[JobChange, None]:
        context = info.context
        query = query_of(context, filter)
        start = context.services.feed.position if after is None else after
        follower = Follower(context.services, context.principal, after=start)
        if query is None:
            return
        async for change in _follow(context, follower, query):
            yield change


async def _follow(
    context: Context, follower: Follower, query: JobQuery | None
) -> AsyncGenerator[JobChange, None]:
    feed = context.services.feed
    while True:
        with feed.watch(follower.job_id or EVERY_JOB) as changed:
            while follower.after < feed.position:
                for position, event, row in await run_in_threadpool(
                    follower.changes, feed.position
                ):
                    if query is None or matches(row, query):
                        yield _change(context, position, type(event).__name__, row)
            await changed.wait()


def matches(row: Row, query: JobQuery) -> bool:
    """Whether a job's summary passes the list's filters (as the read store's SQL would)."""
    wanted = (
        (query.job_type, row["job_type"]),
        (query.investigation_id, row["investigation_id"]),
        (query.created_by, row["created_by"]),
        (query.agent, row["agent"]),
    )
    if any(value is not None and value != actual for value, actual in wanted):
        return False
    if query.status and row["status"] not in query.status:
        return False
    if query.created_after is not None and row["created_at"] < query.created_after:
        return False
    return query.created_before is None or row["created_at"] < query.created_before


def _change(context: Context, position: int, event: str, row: Row) -> JobChange:
    job = job_of(summary_of(row, context.services.currency))
    return JobChange(position=position, event=event, job=job)
