"""What the routes use, built once by the composition root and shared by every request."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal, TokenVerifier
from jobledger.adapters.http.changes import ChangeSource
from jobledger.adapters.http.dispatch import Dispatcher
from jobledger.adapters.http.envelope import (
    Submission,
    envelope_of,
    fold_job_tasks,
    fold_summary,
)
from jobledger.adapters.http.feed import ChangeFeed
from jobledger.adapters.http.metrics import Metrics
from jobledger.adapters.http.readiness import ReadinessProbe
from jobledger.adapters.http.security import may_see
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.read_store import Answer, ReadStorePool
from jobledger.adapters.store.sql.task_reads import JobTasks, job_tasks
from jobledger.adapters.sweeper import LeaseSweeper
from jobledger.domain import events as ev
from jobledger.domain.errors import JobNotFound
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.projections.base import Row

RECORDED_JOBS = 10_000


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    reads: ReadStorePool
    verifier: TokenVerifier
    feed: ChangeFeed
    metrics: Metrics
    changes: ChangeSource | None = None  # how this process hears the read models moved
    sweeper: LeaseSweeper | None = None  # where this process keeps the read models
    dispatcher: Dispatcher = field(init=False)  # hands out claims
    readiness: ReadinessProbe = field(default_factory=ReadinessProbe)  # /readyz's reads
    # job id -> (submission, result): both fixed once recorded (see ``envelope``)
    _recorded: OrderedDict[str, tuple[Submission, dict[str, Any] | None]] = field(
        default_factory=OrderedDict
    )
    _without_tasks: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _asking_tasks: dict[str, asyncio.Future[Answer[JobTasks]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(self.ledger, self.reads, self.feed)

    @property
    def currency(self) -> str:
        return self.ledger.price_book.currency

    async def visible_job(self, principal: Principal, job_id: UUID) -> tuple[Row, int, bool]:
        """The job's summary row if the caller may see it, the position it was read at,
        and whether it came from the read model (else it was folded from the ledger,
        which the read model has not reached yet)."""
        reached = self.feed.position  # before the read: at most what the read models hold
        try:
            async with self.reads.store() as store:
                answer: Answer[Row] = await store.summary(job_id, principal.tenant)
            row, position, projected = answer.value, answer.position, True
        except JobNotFound:
            row = await run_in_threadpool(self.folded_row, principal, job_id)
            position, projected = reached, False
        if not may_see(principal, row["tenant"], row["created_by"]):
            raise JobNotFound(job_id)
        return row, position, projected

    def folded_row(self, principal: Principal, job_id: UUID) -> Row:
        return fold_summary(self.ledger.job_events(job_id, tenant=principal.tenant))

    def envelope_at(
        self, principal: Principal, job_id: UUID, version: int | None = None
    ) -> dict[str, Any]:
        """The envelope folded from the job's events (up to ``version``): what a command
        answers, and what an auditor's replay shows."""
        events = self.ledger.job_events(job_id, tenant=principal.tenant)
        if version is not None:
            events = [e for e in events if e.originator_version <= version]
        row = fold_summary(events)
        if not may_see(principal, row["tenant"], row["created_by"]):
            raise JobNotFound(job_id)
        completed = [e for e in events if isinstance(e, ev.JobCompleted)]
        first = events[0]
        assert isinstance(first, ev.JobSubmitted)
        creator = row["created_by"] == principal.subject
        return envelope_of(
            row,
            self.currency,
            result=completed[-1].result if completed else None,
            submission=Submission.of(first) if creator else None,
            tasks=fold_job_tasks(events),
        )

    async def envelope(self, principal: Principal, row: Row) -> dict[str, Any]:
        """The envelope, with the result (once completed) and, for its creator, what they
        submitted (inputs, config, metadata).

        Neither changes once recorded, so both are kept after the first load."""
        creator = row["created_by"] == principal.subject
        completed = row["status"] == JobStatus.COMPLETED
        tasks = await self.job_tasks(row)
        if not (creator or completed):
            return envelope_of(row, self.currency, result=None, submission=None, tasks=tasks)
        # Kept already (the usual case): no worker thread, whose hop costs more than the read.
        known = self.kept(row["job_id"], completed)
        if known is None:
            known = await run_in_threadpool(self.recorded, row["job_id"], completed)
        submission, result = known
        return envelope_of(
            row,
            self.currency,
            result=result,
            submission=submission if creator else None,
            tasks=tasks,
        )

    def kept(self, job_id: str, completed: bool) -> tuple[Submission, dict[str, Any] | None] | None:
        """What ``recorded`` would answer, if it is kept already (no ledger read)."""
        known = self._recorded.get(job_id)
        return None if known is None or (completed and known[1] is None) else known

    def recorded(self, job_id: str, completed: bool) -> tuple[Submission, dict[str, Any] | None]:
        """What the job's creator submitted, and its result once ``completed``: read from
        the ledger once (blocking), then kept."""
        known = self.kept(job_id, completed)
        if known is None:
            job = self.ledger.get(UUID(job_id))
            known = (Submission.of(job), job.result)
            self._recorded[job_id] = known
            if len(self._recorded) > RECORDED_JOBS:
                self._recorded.popitem(last=False)
        return known

    async def _read_tasks(self, job_id: str, tenant: str) -> Answer[JobTasks]:
        async with self.reads.store() as store:
            return await job_tasks(store, UUID(job_id), tenant)

    async def job_tasks(self, row: Row) -> JobTasks | None:
        """A job of tasks' tasks and verdict from the read model. Whether a job has tasks
        never changes, so a job found without them (once the tasks read model has seen
        as far as its summary) is not asked about again."""
        job_id = row["job_id"]
        if job_id in self._without_tasks:
            return None
        asking = self._asking_tasks.get(job_id)
        if asking is None:  # many answers of one job at once (long polls) ask once
            asking = asyncio.ensure_future(self._read_tasks(job_id, row["tenant"]))
            self._asking_tasks[job_id] = asking
            asking.add_done_callback(lambda _: self._asking_tasks.pop(job_id, None))
        answer = await asyncio.shield(asking)
        if answer.value.tasks:
            return answer.value
        if answer.position >= row["position"]:
            self._without_tasks[job_id] = None
            if len(self._without_tasks) > RECORDED_JOBS:
                self._without_tasks.popitem(last=False)
        return None


def services_of(request: Request) -> Services:
    """The app's services, for a route that takes the request rather than ``ServicesDep``
    (a level of dependencies fewer to solve on each request: the worker routes)."""
    found: Services = request.app.state.services
    return found


async def services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(services)]
