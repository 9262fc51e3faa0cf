"""``jobs``: a Relay connection over the read store's keyset pages.

Paging backwards is paging forwards in the opposite order from the same place, then
turning the page round; every edge's cursor works in both directions. Cursors are the
read store's (``read_store.cursor_at``): a tampered one is a clear ``invalid_command``.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from jobledger.adapters.auth.policy import only_own
from jobledger.adapters.graphql.context import Context
from jobledger.adapters.graphql.enums import JobStatus, JobType
from jobledger.adapters.graphql.errors import InvalidInput
from jobledger.adapters.graphql.types import Job, job_of
from jobledger.adapters.http.envelope import summary_of
from jobledger.adapters.store.sql.read_store import (
    JobQuery,
    Order,
    cursor_at,
    parse_query,
    turned,
)
from jobledger.domain.errors import InvalidCommand

DEFAULT_PAGE = 50


@strawberry.input(description="every filter given must hold")
class JobFilter:
    status: list[JobStatus] | None = None  # type: ignore[valid-type]
    type: JobType | None = None  # type: ignore[valid-type]
    investigation_id: str | None = None
    created_by: str | None = None
    agent: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    mine: bool = strawberry.field(default=False, description="only the jobs the caller created")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type(description="a page of jobs, newest first")
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo
    position: int = strawberry.field(description="the log position the read models had reached")
    query: strawberry.Private[JobQuery | None]

    @strawberry.field(description="how many jobs match the filter (one more query)")
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        if self.query is None:
            return 0
        async with info.context.services.reads.store() as store:
            return await store.count_jobs(self.query)


def query_of(context: Context, given: JobFilter | None, **paging: object) -> JobQuery | None:
    """The read store's query for this caller and filter; None when it can match nothing
    (an analyst asking for someone else's jobs)."""
    principal = context.principal
    found = given or JobFilter()
    created_by = found.created_by
    if found.mine or only_own(principal):
        if created_by not in (None, principal.subject):
            return None
        created_by = principal.subject
    return parse_query(
        JobQuery,
        tenant=principal.tenant,
        status=found.status,
        job_type=found.type.value if found.type else None,
        investigation_id=found.investigation_id,
        created_by=created_by,
        agent=found.agent,
        created_after=found.created_after,
        created_before=found.created_before,
        **paging,
    )


async def jobs_page(
    context: Context,
    given: JobFilter | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> JobConnection:
    if first is not None and last is not None:
        raise InvalidInput("give first or last, not both")
    backwards = last is not None or (before is not None and first is None)
    size = (last if backwards else first) or DEFAULT_PAGE
    limit_name = "last" if backwards else "first"
    order: Order = "oldest" if backwards else "newest"
    cursor = after
    if backwards:
        cursor = None if before is None else turned(before, "newest")
    try:
        query = query_of(context, given, limit=size, cursor=cursor, order=order)
    except InvalidCommand as error:  # the page size is the read store's rule: name the argument
        raise InvalidInput(str(error).replace("limit", limit_name)) from None
    services = context.services
    if query is None:
        return _connection([], False, backwards, after or before, services.feed.position, None)
    async with services.reads.store() as store:
        page = await store.list_jobs(query)
    rows = list(reversed(page.items)) if backwards else page.items
    edges = [
        JobEdge(cursor=cursor_at(row, "newest"), node=job_of(summary_of(row, services.currency)))
        for row in rows
    ]
    more = page.next_cursor is not None
    counted = query.model_copy(update={"cursor": None, "order": "newest"})
    return _connection(edges, more, backwards, after or before, page.position, counted)


def _connection(
    edges: list[JobEdge],
    more: bool,
    backwards: bool,
    started_from: str | None,
    position: int,
    query: JobQuery | None,
) -> JobConnection:
    """``more``: jobs lie beyond the page in the direction of paging; a page that started
    from a cursor has that cursor's job behind it."""
    return JobConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=started_from is not None if backwards else more,
            has_previous_page=more if backwards else started_from is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        position=position,
        query=query,
    )
