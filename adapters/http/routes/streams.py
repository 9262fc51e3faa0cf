"""Live job changes as Server-Sent Events, resumable with ``Last-Event-ID``.

Each message is one event of the ledger's log the caller may see: its ``id`` is
the event's log position and its data the job's summary just after it. Streams
read the log only up to where the read models have got, so a stream never
shows what a read of the job could not yet, and they wake on the change feed
rather than by polling. A resumed stream continues after the position it names:
no gap, no repeat.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.envelope import fold_summary, summary_of
from jobledger.adapters.http.feed import EVERY_JOB
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.security import JOB_READERS, allowed, may_see
from jobledger.adapters.http.services import Services, ServicesDep
from jobledger.domain import events as ev
from jobledger.domain.errors import InvalidCommand
from jobledger.projections.base import Row
from jobledger.projections.job_summaries import evolve, new_summary
from jobledger.projections.runner import JOB_EVENT_TOPICS

router = APIRouter(prefix="/v1", tags=["streams"])
Reader = Annotated[Principal, Depends(allowed(*JOB_READERS, to="stream jobs"))]
KEEP_ALIVE_SECONDS = 15.0
DIGITS = re.compile(r"[0-9]{1,18}")
READ_LIMIT = 500
CACHED_JOBS = 10_000
SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="resume after this position (an SSE id)"),
]


@dataclass
class Follower:
    """One stream's reading of the log: where it is, and the jobs it has folded."""

    services: Services
    principal: Principal
    after: int
    job_id: str | None = None
    rows: OrderedDict[str, Row] = field(default_factory=OrderedDict)

    def read(self, upto: int) -> list[str]:
        """Messages for what the caller may see in (after, upto]; runs in a worker thread."""
        return [self._message(*change) for change in self.changes(upto)]

    def changes(self, upto: int) -> list[tuple[int, ev.JobEvent, Row]]:
        """(position, event, the job's summary just after it) for each event in (after, upto]
        the caller may see; runs in a worker thread (GraphQL subscriptions read it too)."""
        ledger = self.services.ledger
        notifications = ledger.recorder.select_notifications(
            start=self.after,
            limit=READ_LIMIT,
            stop=upto,
            topics=sorted(JOB_EVENT_TOPICS),
            inclusive_of_start=False,
        )
        messages: list[tuple[int, ev.JobEvent, Row]] = []
        for notification in notifications:
            if self.job_id is not None and str(notification.originator_id) != self.job_id:
                continue
            event = ledger.mapper.to_domain_event(notification)
            if not isinstance(event, ev.JobEvent) or event.tenant != self.principal.tenant:
                continue
            row = self._evolve(event)
            if row is not None and may_see(self.principal, row["tenant"], row["created_by"]):
                messages.append((notification.id, event, dict(row)))
        full = len(notifications) == READ_LIMIT
        self.after = notifications[-1].id if full else upto
        return messages

    def _evolve(self, event: ev.JobEvent) -> Row | None:
        job_id = str(event.originator_id)
        row = self.rows.pop(job_id, None)
        if isinstance(event, ev.JobSubmitted):
            row = new_summary(event)
        elif row is None:
            earlier = [
                e
                for e in self.services.ledger.events.get(
                    event.originator_id, lte=event.originator_version - 1
                )
                if isinstance(e, ev.JobEvent)
            ]
            if not earlier:
                return None
            row = fold_summary(earlier)
            evolve(row, event)
        else:
            evolve(row, event)
        self.rows[job_id] = row
        if len(self.rows) > CACHED_JOBS:
            self.rows.popitem(last=False)
        return row

    def _message(self, position: int, event: ev.JobEvent | None, row: Row) -> str:
        data = {
            "position": position,
            "event": type(event).__name__ if event is not None else "Snapshot",
            "job": summary_of(row, self.services.currency),
        }
        return f"id: {position}\ndata: {to_json(data).decode()}\n\n"

    def snapshot(self, row: Row) -> str:
        self.rows[row["job_id"]] = dict(row)
        return self._message(row["position"], None, row)


async def _messages(request: Request, follower: Follower, first: str | None) -> AsyncIterator[str]:
    feed = follower.services.feed
    yield "retry: 2000\n\n"
    if first is not None:
        yield first
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not await request.is_disconnected():
        with feed.watch(follower.job_id or EVERY_JOB) as changed:
            while follower.after < feed.position:
                for message in await run_in_threadpool(follower.read, feed.position):
                    quiet_since = loop.time()
                    yield message
            # Wakes for changes the caller may not see do not count as traffic.
            left = quiet_since + KEEP_ALIVE_SECONDS - loop.time()
            try:
                await asyncio.wait_for(changed.wait(), max(left, 0))
            except TimeoutError:
                quiet_since = loop.time()
                yield ": keep-alive\n\n"


def resume_point(
    last_event_id: LastEventId = None,
    resume_after: Annotated[int | None, Query(alias="lastEventId", ge=0)] = None,
) -> int | None:
    """Where a reconnecting client left off: the header browsers send, or the query."""
    if last_event_id is None:
        return resume_after
    if not DIGITS.fullmatch(last_event_id.strip()):
        raise InvalidCommand("Last-Event-ID: must be a log position (a whole number) this API sent")
    return int(last_event_id.strip())


ResumePoint = Annotated[int | None, Depends(resume_point)]


def _stream(request: Request, follower: Follower, first: str | None = None) -> StreamingResponse:
    return StreamingResponse(
        _messages(request, follower, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/jobs/{job_id}/stream",
    summary="A job's changes, live (SSE)",
    response_class=StreamingResponse,
    responses={**SSE, **responses(401, 403, 404, 422)},
)
async def job_stream(
    job_id: UUID,
    request: Request,
    principal: Reader,
    services: ServicesDep,
    after: ResumePoint,
) -> StreamingResponse:
    """Starts with the job as it is now (a ``Snapshot`` message), unless resuming."""
    row, position, projected = await services.visible_job(principal, job_id)
    follower = Follower(services, principal, after=0, job_id=str(job_id))
    if after is not None:
        follower.after = after
        return _stream(request, follower)
    if not projected:  # the read models have not reached it: stream it from their position
        follower.after = position
        return _stream(request, follower)
    follower.after = row["position"]
    return _stream(request, follower, follower.snapshot(row))


@router.get(
    "/stream",
    summary="Changes to every job the caller may read, live (SSE)",
    response_class=StreamingResponse,
    responses={**SSE, **responses(401, 403, 422)},
)
async def tenant_stream(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    after: ResumePoint,
) -> StreamingResponse:
    """Starts at the present, unless resuming."""
    follower = Follower(
        services, principal, after=services.feed.position if after is None else after
    )
    return _stream(request, follower)
