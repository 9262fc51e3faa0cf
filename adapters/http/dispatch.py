"""Handing out work: the next claimable job, claimed for the worker that asks.

Candidates come from the job summaries; the Job has the last word. A claim that
loses a race, or reaches for a job the read model shows out of date, is refused
and the next candidate is tried. Requests of one process reserve the candidates
they try, and a job claimed here is passed over until the read models have seen
that claim, so the workers of one server never collide while claiming side by
side. Workers of several servers (PostgreSQL) collide only when they reach for
the same job, and then move on.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from jobledger.adapters.http.correlation import job_workflow
from jobledger.adapters.http.feed import ChangeFeed
from jobledger.adapters.store.sql.read_store import ReadStorePool
from jobledger.domain.errors import JobNotFound
from jobledger.domain.job import Job
from jobledger.domain.ledger import Ledger, Outcome
from jobledger.domain.values import Actor, CommandMeta, new_correlation_id

CANDIDATES = 16  # read at a time
PICK = 3  # of which one request tries this many, in order, before reading again
ROUNDS = 5  # reads of candidates before answering "nothing" while others win every race
RESERVED = sys.maxsize  # the position of a job a request of this process is claiming
RECHECK_SECONDS = 1.0  # a waiting claim looks again this often (a retry's back-off ends)


@dataclass(frozen=True)
class ClaimRequest:
    agent: str
    pool: str | None
    types: tuple[str, ...]
    lease_seconds: float
    wait_seconds: float = 0
    command_id: str | None = None  # makes a repeated claim return the first one
    correlation_id: str | None = None  # recorded on the claim; None: the job's workflow


@dataclass(frozen=True)
class Claimed:
    outcome: Outcome
    job: Job  # as the claim left it: inputs, config, type
    workflow: str  # the correlation id the job was submitted with


class Dispatcher:
    def __init__(self, ledger: Ledger, reads: ReadStorePool, feed: ChangeFeed) -> None:
        self.ledger = ledger
        self.reads = reads
        self.feed = feed
        # job id -> log position of a claim made here that the read models may not show yet
        self._pending: dict[str, int] = {}

    async def claim(self, actor: Actor, request: ClaimRequest) -> Claimed | None:
        """The next job claimed for ``actor``; None once ``wait_seconds`` pass without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.wait_seconds
        while True:
            with self.feed.watch() as changed:  # watch first: a job queued meanwhile wakes us
                claimed = await self._claim_next(actor, request)
                left = deadline - loop.time()
                if claimed is not None or left <= 0:
                    return claimed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(left, RECHECK_SECONDS))

    async def _claim_next(self, actor: Actor, request: ClaimRequest) -> Claimed | None:
        for _ in range(ROUNDS):
            self._forget_projected()
            limit = CANDIDATES + len(self._pending)
            async with self.reads.store() as store:
                found = await store.claimable(
                    actor.tenant, self.ledger.clock(), request.types, request.pool, limit
                )
            # Passed over: jobs claimed here that the read models do not show as claimed
            # yet, and jobs another request of this process is claiming right now.
            free = [job_id for job_id, _ in found if job_id not in self._pending]
            mine = free[:PICK]
            for job_id in mine:
                self._pending[job_id] = RESERVED
            try:
                won = await run_in_threadpool(
                    self._claim_first, actor, [UUID(job_id) for job_id in mine], request
                )
            finally:
                for job_id in mine:
                    del self._pending[job_id]
            if won is not None:
                outcome, workflow = won
                assert outcome.job is not None
                self._settle(mine, str(outcome.job_id), outcome.position or 0)
                return Claimed(outcome, outcome.job, workflow)
            self._settle(mine, None, 0)
            if len(found) < limit and len(free) <= len(mine):
                return None  # every candidate was tried: others won them all
        return None

    def _claim_first(
        self, actor: Actor, candidates: list[UUID], request: ClaimRequest
    ) -> tuple[Outcome, str] | None:
        """The ledger's ``claim_next``, each claim under the worker's correlation id or
        else its job's workflow, so that a whole job reads as one workflow; with the
        workflow, which the answer names (found in this worker thread, not another)."""

        def claim_next(jobs: list[UUID], meta: CommandMeta) -> Outcome | None:
            return self.ledger.claim_next(
                actor,
                jobs,
                agent=request.agent,
                pool=request.pool,
                lease_seconds=request.lease_seconds,
                meta=meta,
            )

        command_id, given = request.command_id, request.correlation_id
        if given is not None or not candidates:  # with no candidates only a repeat matches
            meta = CommandMeta(given or new_correlation_id(), command_id)
            outcome = claim_next(candidates, meta)
            return None if outcome is None else (outcome, self._workflow(actor, outcome))
        for job_id in candidates:
            try:
                workflow = job_workflow(self.ledger, job_id, actor.tenant)
            except JobNotFound:
                continue
            outcome = claim_next([job_id], CommandMeta(workflow, command_id))
            if outcome is not None:  # a repeated command id answers its first claim's job
                same = outcome.job_id == job_id
                return outcome, workflow if same else self._workflow(actor, outcome)
        return None

    def _workflow(self, actor: Actor, outcome: Outcome) -> str:
        return job_workflow(self.ledger, outcome.job_id, actor.tenant)

    def _settle(self, tried: list[str], won: str | None, position: int) -> None:
        """Pass over the job won until the read models show its claim, and those lost
        (the read model was behind) until they move on; the rest were not tried, nor
        any when a repeated claim got its first one back."""
        if won is not None and won not in tried:
            return
        for job_id in tried:
            if job_id == won:
                self._pending[job_id] = position
                return
            self._pending[job_id] = self.feed.position + 1

    def _forget_projected(self) -> None:
        reached = self.feed.position
        for job_id in [j for j, position in self._pending.items() if position <= reached]:
            del self._pending[job_id]
