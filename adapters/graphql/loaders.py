"""DataLoaders, one set per request: the fields of many jobs of a page are read in one
go (one statement for every history, one worker thread for every ledger read), not one
round trip per job."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.envelope import Submission
from jobledger.adapters.http.services import Services
from jobledger.adapters.store.sql.task_reads import JobTasks, tasks_of_jobs
from jobledger.domain import events as ev
from jobledger.projections.base import Row

Recorded = tuple[Submission, dict[str, Any] | None]


class Loaders:
    def __init__(self, services: Services, principal: Principal) -> None:
        self.services = services
        self.principal = principal
        self.history: DataLoader[str, list[Row]] = DataLoader(self._histories)
        # (job id, completed) -> what was submitted and, once completed, the result
        self.recorded: DataLoader[tuple[str, bool], Recorded] = DataLoader(self._recorded)
        self.events: DataLoader[str, list[ev.JobEvent]] = DataLoader(self._events)
        self.tasks: DataLoader[str, JobTasks | None] = DataLoader(self._tasks)
        self.steps: DataLoader[str, list[Row]] = DataLoader(self._steps)

    async def _histories(self, job_ids: list[str]) -> list[list[Row]]:
        async with self.services.reads.store() as store:
            found = await store.histories(job_ids, self.principal.tenant)
        return [found.get(job_id, []) for job_id in job_ids]

    async def _tasks(self, job_ids: list[str]) -> list[JobTasks | None]:
        async with self.services.reads.store() as store:
            found = await tasks_of_jobs(store, job_ids, self.principal.tenant)
        return [found[job_id] for job_id in job_ids]

    async def _steps(self, job_ids: list[str]) -> list[list[Row]]:
        async with self.services.reads.store() as store:
            found = await store.steps_of(job_ids, self.principal.tenant)
        return [found[job_id] for job_id in job_ids]

    async def _recorded(self, keys: list[tuple[str, bool]]) -> list[Recorded]:
        """Kept ones at once; a worker thread only when one must be read from the ledger
        (handing work to a thread costs more than answering a small query)."""
        services = self.services
        kept = [services.kept(*key) for key in keys]
        if all(found is not None for found in kept):
            return kept  # type: ignore[return-value]
        return await run_in_threadpool(lambda: [services.recorded(*key) for key in keys])

    async def _events(self, job_ids: list[str]) -> list[list[ev.JobEvent]]:
        ledger, tenant = self.services.ledger, self.principal.tenant
        return await run_in_threadpool(
            lambda: [ledger.job_events(UUID(job_id), tenant=tenant) for job_id in job_ids]
        )
