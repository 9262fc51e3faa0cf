"""Handing out work: the next claimable job, claimed for the worker that asks.

Candidates come from the job summaries; the Job has the last word. A claim that
loses a race, or reaches for a job the read model shows out of date, is refused
and the next candidate is tried. Requests of one process reserve the candidates
they try, and a job claimed here is passed over until the read models have seen
that claim, so the workers of one server never collide while claiming side by
side. Workers of several servers (PostgreSQL) collide only when they reach for
the same job, and then move on. Several claims for one request (a batch) are read,
reserved and saved together.
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
from jobledger.domain.command_batch import Run, execute_many
from jobledger.domain.errors import ConcurrencyConflict, JobNotFound
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

    async def claim_several(
        self, actor: Actor, requests: list[ClaimRequest], most: int
    ) -> list[Claimed]:
        """Up to ``most`` jobs claimed at once, without waiting: candidates read once a
        round and reserved together, then claimed together (``execute_many``: one save),
        each claim under the next of ``requests`` (its command id) while they last."""
        claimed: list[Claimed] = []
        unused = list(requests)
        for _ in range(ROUNDS):
            if len(claimed) == most or not unused:
                break
            self._forget_projected()
            limit = CANDIDATES + len(self._pending) + most
            async with self.reads.store() as store:
                found = await store.claimable(
                    actor.tenant, self.ledger.clock(), unused[0].types, unused[0].pool, limit
                )
            free = [job_id for job_id, _ in found if job_id not in self._pending]
            mine = free[: min(most - len(claimed), len(unused))]
            if not mine:
                break
            for job_id in mine:
                self._pending[job_id] = RESERVED
            tries, unused = unused[: len(mine)], unused[len(mine) :]
            try:
                answers = await run_in_threadpool(self._claim_each, actor, mine, tries)
            finally:
                for job_id in mine:
                    del self._pending[job_id]
            for job_id, won in zip(mine, answers, strict=True):
                if won is None or won.outcome.job_id != UUID(job_id):
                    self._settle([job_id], None, 0)  # lost: passed over until projected
                    continue
                self._settle([job_id], job_id, won.outcome.position or 0)
                claimed.append(won)
            if len(found) < limit and len(free) <= len(mine):
                break  # every candidate was tried
        return claimed

    def _claim_each(
        self, actor: Actor, candidates: list[str], requests: list[ClaimRequest]
    ) -> list[Claimed | None]:
        """Each candidate claimed under its request, decided together and saved in one
        transaction; None for one another worker took first (or gone, or not yet due)."""
        runs: list[Run] = []
        workflows: list[str | None] = []
        for job_id, request in zip(candidates, requests, strict=True):
            try:
                workflow = request.correlation_id or job_workflow(
                    self.ledger, UUID(job_id), actor.tenant
                )
            except JobNotFound:
                workflow = None
            workflows.append(workflow)
            runs.append(self._claim_run(actor, UUID(job_id), request, workflow))
        answers = execute_many(self.ledger, actor, runs)
        return [
            Claimed(answer, answer.job, workflow)
            if isinstance(answer, Outcome) and answer.job is not None and workflow is not None
            else None
            for answer, workflow in zip(answers, workflows, strict=True)
        ]

    def _claim_run(
        self, actor: Actor, job_id: UUID, request: ClaimRequest, workflow: str | None
    ) -> Run:
        def run() -> Outcome:
            if workflow is None:
                raise JobNotFound(job_id)
            outcome = self.ledger.claim_next(
                actor,
                [job_id],
                agent=request.agent,
                pool=request.pool,
                lease_seconds=request.lease_seconds,
                meta=CommandMeta(workflow, request.command_id),
            )
            if outcome is None:
                raise ConcurrencyConflict(job_id, None, None)  # taken first, or not due
            return outcome

        return run

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
