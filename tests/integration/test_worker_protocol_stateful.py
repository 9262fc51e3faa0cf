"""The whole worker protocol against a reference model, on both stores.

Several workers claim through the real Dispatcher, start, report, spend, renew,
fail, complete and hand work back; analysts cancel; ledger time moves and the
real sweeper expires what lapsed; workers whose lease is gone keep talking. After
every step: no job is held by two workers, no job has more attempts than allowed,
and each job, and its summary, stands where the reference says. Once every lease
has lapsed and been swept, every job is queued or finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from jobledger.adapters.bootstrap import build_ledger, build_runner, build_sweeper, read_pool
from jobledger.adapters.cli.samples import sample_result
from jobledger.adapters.http.dispatch import ClaimRequest, Dispatcher
from jobledger.adapters.http.feed import ChangeFeed
from jobledger.domain.errors import IllegalTransition, InvalidCommand, LeaseMismatch
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.results import JobType
from jobledger.domain.values import Actor
from jobledger.projections.base import Key, Row
from jobledger.projections.schema import JOB_SUMMARIES, TASKS
from tests.conftest import ANALYST, STORES, MovableClock, fresh_store, require_postgres

AGENTS = ("worker-1", "worker-2", "worker-3")
LEASE_LENGTHS = (60.0, 300.0)  # 300: the default lease
RETRY_BASE, RETRY_MAX = 20.0, 120.0  # back-offs of 10-20 s, then 20-40 s
JITTERS = (0.0, 0.5, 0.999)
# Time steps that land exactly on a deadline or a back-off's end (e.g. 60 s after a
# claim of 60 s; 10 s after a first failure with no jitter), and just either side.
MOMENTS = (1.0, 10.0, 15.0, 20.0, 30.0, 59.0, 60.0, 61.0, 299.0, 300.0, 301.0)
MAX_OPEN_JOBS = 4
USAGE_MODEL = "gpt-4o"

# -- the reference: the protocol's rules written out plainly -------------------------

QUEUED, CLAIMED, RUNNING = JobStatus.QUEUED, JobStatus.CLAIMED, JobStatus.RUNNING
VALIDATING, UPLOADING = JobStatus.VALIDATING, JobStatus.UPLOADING
COMPLETED, FAILED, CANCELLED = JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED
WORKING = frozenset({RUNNING, VALIDATING, UPLOADING})
LEASED = WORKING | {CLAIMED}
STATUSES = frozenset(s.value for s in JobStatus)

# The statuses from which a worker's command is allowed.
WORKER_COMMANDS: dict[str, frozenset[JobStatus]] = {
    "start": frozenset({CLAIMED}),
    "report_progress": frozenset({RUNNING}),
    "record_usage": LEASED,
    "heartbeat": LEASED,
    "begin_validation": frozenset({RUNNING}),
    "begin_upload": frozenset({RUNNING, VALIDATING}),
    "complete": WORKING,
    "fail": LEASED,
    "release": frozenset({CLAIMED}),
    "acknowledge_cancellation": WORKING,
}
# How often a worker getting on with its job picks each command it may send.
WEIGHTS = {
    "start": 4,
    "report_progress": 3,
    "begin_validation": 2,
    "begin_upload": 2,
    "complete": 2,
    "fail": 2,
    "acknowledge_cancellation": 3,
    "record_usage": 1,
    "heartbeat": 1,
    "release": 1,
}
STOPPING = ("acknowledge_cancellation", "fail")  # drawn more once a cancel is asked
PAUSES = (5.0, 1.0, 0.0, 20.0)  # seconds between a worker's commands


@dataclass
class JobModel:
    """Where one job stands, by the rules alone."""

    job_id: UUID
    job_type: JobType
    priority: int
    max_attempts: int
    created_at: datetime
    status: JobStatus = QUEUED
    attempt: int = 1
    progress: int = 0
    agent: str | None = None
    lease: str | None = None
    lease_until: datetime | None = None
    lease_length: timedelta | None = None  # what each worker command renews by
    not_before: datetime | None = None  # a retry's back-off ends here
    cancel_requested: bool = False

    def claimable(self, now: datetime) -> bool:
        return self.status is QUEUED and (self.not_before is None or self.not_before <= now)

    def claim_order(self) -> tuple[int, datetime, str]:
        """Highest priority first, then the oldest."""
        return (-self.priority, self.created_at, str(self.job_id))

    def expirable(self, now: datetime) -> bool:
        """A lease has lapsed from its deadline on, for the Job and the sweeper alike."""
        return self.lease_until is not None and self.lease_until <= now

    def drop_lease(self) -> None:
        self.agent = self.lease = self.lease_until = None

    def finish(self, status: JobStatus) -> None:
        self.status = status
        if status is COMPLETED:
            self.progress = 100
        self.drop_lease()

    def requeue(self, not_before: datetime | None = None) -> None:
        self.status, self.attempt, self.progress = QUEUED, self.attempt + 1, 0
        self.not_before = not_before
        self.drop_lease()

    def expire(self) -> None:
        """What the sweeper's expiry of a lapsed lease does."""
        if self.cancel_requested:
            self.finish(CANCELLED)
        elif self.attempt < self.max_attempts:
            self.requeue()
        else:
            self.finish(FAILED)


def backoff(failed_attempt: int, jitter: float) -> timedelta:
    ceiling = min(RETRY_MAX, RETRY_BASE * 2 ** (failed_attempt - 1))
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * jitter)


@dataclass(frozen=True)
class Grant:
    """A lease a worker was handed; it keeps it until a command tells it otherwise."""

    agent: str
    job_id: UUID
    lease: str


# -- the machine ------------------------------------------------------------------------


class WorkerProtocol(RuleBasedStateMachine):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.exits = contextlib.ExitStack()
        try:
            self._open(kind)
        except BaseException:
            self.exits.close()
            raise
        self.jobs: dict[UUID, JobModel] = {}
        self.grants: list[Grant] = []

    def _open(self, kind: str) -> None:
        store = self.exits.enter_context(fresh_store(kind))
        self.store = store.model_copy(
            update={"retry_base_seconds": RETRY_BASE, "retry_max_seconds": RETRY_MAX}
        )
        self.clock = MovableClock()
        self.ledger = build_ledger(self.store, clock=self.clock)
        self.exits.callback(self.ledger.close)
        self.jitter = 0.0
        self.ledger.draw = lambda: self.jitter  # back-offs the reference can predict
        self.runner = build_runner(self.ledger)
        self.sweeper = build_sweeper(self.ledger, self.runner, self.store)
        self.exits.callback(self.sweeper.lock.release)
        # One loop for the whole run: the dispatcher's lock and the read pool bind to it.
        self.loop = asyncio.new_event_loop()
        self.exits.callback(self.loop.close)
        self.reads = read_pool(self.ledger, size=1)
        self.loop.run_until_complete(self.reads.open())
        self.exits.callback(lambda: self.loop.run_until_complete(self.reads.close()))
        self.feed = ChangeFeed()
        self.dispatcher = Dispatcher(self.ledger, self.reads, self.feed)

    def teardown(self) -> None:
        with self.exits:
            if sys.exc_info()[0] is None:  # after a failed step, report that failure alone
                self.settle()

    # -- analysts -----------------------------------------------------------------------

    def may_submit(self) -> bool:
        return len(self.open_jobs()) < MAX_OPEN_JOBS

    @precondition(may_submit)
    @rule(
        job_type=st.sampled_from(JobType),
        max_attempts=st.integers(min_value=1, max_value=3),
        priority=st.integers(min_value=0, max_value=9),
    )
    def analyst_submits(self, job_type: JobType, max_attempts: int, priority: int) -> None:
        # A millisecond apart: the claim order never falls to the (random) job ids, so
        # every run of an example takes the same path.
        self.clock.advance(seconds=0.001)
        outcome = self.ledger.submit(
            ANALYST, job_type.value, max_attempts=max_attempts, priority=priority
        )
        self.jobs[outcome.job_id] = JobModel(
            outcome.job_id, job_type, priority, max_attempts, self.clock.now
        )

    def open_jobs(self) -> list[JobModel]:
        return [j for j in self.jobs.values() if not j.status.is_terminal]

    @precondition(lambda self: self.open_jobs())
    @rule(data=st.data(), reason=st.sampled_from(["not needed", "wrong corpus"]))
    def analyst_cancels(self, data: st.DataObject, reason: str) -> None:
        """Mostly a job someone works on (which asks its worker to stop); now and then
        one not started (cancelled at once) or one just finished (refused)."""
        finished = [j for j in self.jobs.values() if j.status.is_terminal][-2:]
        jobs = [j for j in self.open_jobs() for _ in range(4 if j.status in WORKING else 1)]
        jobs += finished
        job = data.draw(st.sampled_from(jobs), label="job to cancel")

        def cancel() -> object:
            return self.ledger.cancel(ANALYST, job.job_id, reason=reason)

        if job.status.is_terminal:
            self.refused(job, cancel, IllegalTransition)
        elif job.status in (QUEUED, CLAIMED):
            cancel()
            job.finish(CANCELLED)
        elif job.cancel_requested:
            self.refused(job, cancel, None)  # asked once already: nothing new to record
        else:
            cancel()
            job.cancel_requested = True

    # -- workers ------------------------------------------------------------------------

    def ready(self) -> list[JobModel]:
        """The jobs a claim may take now, in the order the dispatcher tries them."""
        now = self.clock.now
        return sorted((j for j in self.jobs.values() if j.claimable(now)), key=JobModel.claim_order)

    @precondition(lambda self: self.ready())
    @rule(agent=st.sampled_from(AGENTS), lease_seconds=st.sampled_from(LEASE_LENGTHS))
    def worker_claims(self, agent: str, lease_seconds: float) -> None:
        self.claim(agent, lease_seconds)

    @precondition(lambda self: not self.ready())
    @rule(agent=st.sampled_from(AGENTS), lease_seconds=st.sampled_from(LEASE_LENGTHS))
    def worker_finds_nothing_to_claim(self, agent: str, lease_seconds: float) -> None:
        """Nothing queued, or only retries still backing off, or held by others."""
        self.claim(agent, lease_seconds)

    def claim(self, agent: str, lease_seconds: float) -> None:
        now, ready = self.clock.now, self.ready()
        self.catch_up()
        request = ClaimRequest(agent=agent, pool=None, types=(), lease_seconds=lease_seconds)
        claimed = self.loop.run_until_complete(
            self.dispatcher.claim(Actor(agent, ANALYST.tenant), request)
        )
        if not ready:
            assert claimed is None
            return
        assert claimed is not None, f"{len(ready)} job(s) were claimable"
        job = ready[0]
        lease = claimed.outcome.lease_id
        assert claimed.outcome.job_id == job.job_id
        assert lease is not None
        assert lease not in {g.lease for g in self.grants}
        assert (claimed.job.lease_id, claimed.job.agent) == (lease, agent)
        job.status, job.agent, job.lease, job.not_before = CLAIMED, agent, lease, None
        job.lease_length = timedelta(seconds=lease_seconds)
        job.lease_until = now + job.lease_length
        self.grants.append(Grant(agent, job.job_id, lease))

    def holding(self) -> list[Grant]:
        return [g for g in self.grants if self.jobs[g.job_id].lease == g.lease]

    def stale(self) -> list[Grant]:
        return [g for g in self.grants if self.jobs[g.job_id].lease != g.lease]

    @precondition(lambda self: self.holding())
    @rule(data=st.data(), command=st.sampled_from(sorted(WORKER_COMMANDS)))
    def worker_sends(self, data: st.DataObject, command: str) -> None:
        """Any command, allowed now or not."""
        self.send(data.draw(st.sampled_from(self.holding()), label="grant"), command, data)

    @precondition(lambda self: self.holding())
    @rule(data=st.data())
    def worker_gets_on_with_it(self, data: st.DataObject) -> None:
        """A few commands the job's status allows, a moment apart (so each renewal
        moves the deadline), forward moves drawn most, so that jobs get far enough to
        report, validate, upload and finish; asked to stop, the worker mostly does."""
        grant = data.draw(st.sampled_from(self.holding()), label="grant")
        job = self.jobs[grant.job_id]
        for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="commands")):
            if job.lease != grant.lease:
                return
            self.clock.advance(seconds=data.draw(st.sampled_from(PAUSES), label="pause"))
            weights = {
                c: WEIGHTS[c] + (3 if job.cancel_requested and c in STOPPING else 0)
                for c, sources in WORKER_COMMANDS.items()
                if job.status in sources
                and (c != "acknowledge_cancellation" or job.cancel_requested)
            }
            weighted = [c for c, weight in weights.items() for _ in range(weight)]
            self.send(grant, data.draw(st.sampled_from(weighted), label="command"), data)

    @precondition(lambda self: self.stale())
    @rule(data=st.data(), command=st.sampled_from(sorted(WORKER_COMMANDS)))
    def a_late_worker_is_refused(self, data: st.DataObject, command: str) -> None:
        """A worker whose lease was expired, cancelled or ended sends anyway; mostly
        one whose job another lease holds now."""
        grants = [
            g
            for g in self.stale()[-6:]
            for _ in range(1 if self.jobs[g.job_id].lease is None else 4)
        ]
        self.send(data.draw(st.sampled_from(grants), label="old grant"), command, data)

    def send(self, grant: Grant, command: str, data: st.DataObject) -> None:
        """A worker command under ``grant``'s lease, checked against the reference."""
        job = self.jobs[grant.job_id]
        arguments = self.arguments(job, command, data)
        actor = Actor(grant.agent, ANALYST.tenant)

        def call() -> object:
            method = getattr(self.ledger, command)
            return method(actor, job.job_id, lease_id=grant.lease, **arguments)

        held_by_another = job.lease is not None and job.lease != grant.lease
        if not held_by_another and job.status not in WORKER_COMMANDS[command]:
            self.refused(job, call, IllegalTransition)
        elif job.lease != grant.lease:
            self.refused(job, call, LeaseMismatch)  # fenced out
        elif command == "report_progress" and arguments["percent"] < job.progress:
            self.refused(job, call, InvalidCommand)  # progress never decreases
        elif command == "acknowledge_cancellation" and not job.cancel_requested:
            self.refused(job, call, InvalidCommand)
        else:
            call()
            self.worker_command_done(job, command, arguments)

    def arguments(self, job: JobModel, command: str, data: st.DataObject) -> dict[str, Any]:
        if command == "report_progress":
            return {"percent": data.draw(st.integers(min_value=0, max_value=100), label="%")}
        if command == "record_usage":
            tokens = data.draw(st.integers(min_value=0, max_value=10**6), label="tokens")
            return {"model": USAGE_MODEL, "input_tokens": tokens, "output_tokens": tokens // 10}
        if command == "heartbeat":
            length = data.draw(st.sampled_from([None, *LEASE_LENGTHS]), label="lease_seconds")
            return {"lease_seconds": length}
        if command == "complete":
            seed = data.draw(st.integers(min_value=0, max_value=2**16), label="result seed")
            return {"result": sample_result(job.job_type, random.Random(seed))}
        if command == "fail":
            self.jitter = data.draw(st.sampled_from(JITTERS), label="jitter")
            retryable = data.draw(st.sampled_from([True, True, False]), label="retryable")
            return {"code": "worker_error", "message": "boom", "retryable": retryable}
        if command == "release":
            return {"reason": "busy"}
        return {}

    def worker_command_done(self, job: JobModel, command: str, arguments: dict[str, Any]) -> None:
        now = self.clock.now
        if command == "start":
            job.status = RUNNING
        elif command == "report_progress":
            job.progress = arguments["percent"]
        elif command == "heartbeat" and arguments["lease_seconds"] is not None:
            job.lease_length = timedelta(seconds=arguments["lease_seconds"])
        elif command == "begin_validation":
            job.status = VALIDATING
        elif command == "begin_upload":
            job.status = UPLOADING
        elif command == "complete":
            job.finish(COMPLETED)
        elif command == "acknowledge_cancellation":
            job.finish(CANCELLED)
        elif command == "release":
            job.status = QUEUED
            job.drop_lease()
        elif command == "fail":
            retry = arguments["retryable"] and job.attempt < job.max_attempts
            if retry and not job.cancel_requested:
                job.requeue(not_before=now + backoff(job.attempt, self.jitter))
            else:
                job.finish(FAILED)
        if job.lease is not None:
            assert job.lease_length is not None
            job.lease_until = now + job.lease_length  # every worker command renews

    def refused(
        self, job: JobModel, command: Callable[[], object], error: type[Exception] | None
    ) -> None:
        """The command raises ``error`` (None: returns) and records nothing."""
        end, version = (
            self.ledger.recorder.max_notification_id(),
            self.ledger.get(job.job_id).version,
        )
        if error is None:
            command()
        else:
            with pytest.raises(error):
                command()
        assert self.ledger.recorder.max_notification_id() == end
        assert self.ledger.get(job.job_id).version == version

    # -- time and the sweeper -----------------------------------------------------------

    @rule(
        seconds=st.sampled_from(MOMENTS) | st.floats(min_value=0, max_value=400),
        sweep=st.sampled_from(["sweep", "no sweep", "sweep from stale read models", "no sweep"]),
    )
    def time_passes(self, seconds: float, sweep: str) -> None:
        """Time passes; then the sweeper may run (until it does, a lapsed lease still
        works: only its recorded expiry ends it)."""
        self.clock.advance(seconds=seconds)
        if sweep != "no sweep":
            self.sweeper_sweeps(caught_up=sweep == "sweep")

    def sweeper_sweeps(self, caught_up: bool) -> None:
        """From current read models or stale ones. The sweeper tries the leases its
        summaries show at or past their deadline; the Job expires whichever of those
        jobs holds a lease (the same or a newer one) that has reached its deadline now.
        So a stale summary may miss a lapsed lease, but never ends one that still runs."""
        now = self.clock.now
        if caught_up:
            self.catch_up()
        candidates = {
            UUID(row["job_id"])
            for row in self.summaries().values()
            if row["status"] in LEASED and row["lease_expires_at"] <= now
        }
        expiring = [j for j in self.jobs.values() if j.job_id in candidates and j.expirable(now)]
        assert self.sweeper.sweep() == self.expected_sweeps(len(expiring))
        for job in expiring:
            job.expire()

    def expected_sweeps(self, jobs: int) -> int:
        return jobs

    def settle(self) -> None:
        """Every lease lapses and the sweeper runs: each job is queued or finished."""
        now = self.clock.now
        last = max((j.lease_until for j in self.jobs.values() if j.lease_until), default=now)
        self.clock.advance(seconds=max((last - now).total_seconds(), 0) + 1)
        self.sweeper_sweeps(caught_up=True)
        for job in self.jobs.values():
            status = self.ledger.get(job.job_id).status
            assert status is QUEUED or status.is_terminal, (job.job_id, status)
        self.check(list(self.jobs.values()))

    # -- read models ----------------------------------------------------------------------

    def catch_up(self) -> None:
        """Project everything, tell the dispatcher how far, and check the summaries."""
        self.feed.position = self.runner.catch_up()
        rows = self.summaries()
        for job in self.jobs.values():
            row = rows[(str(job.job_id),)]
            assert (
                row["status"],
                row["attempt"],
                row["agent"],
                row["lease_expires_at"],
                row["not_before"],
                row["cancellation_requested"],
            ) == (
                job.status.value,
                job.attempt,
                job.agent,
                job.lease_until,
                job.not_before,
                job.cancel_requested,
            ), job.job_id

    def summaries(self) -> dict[Key, Row]:
        view = self.runner.projection("job_summaries").view
        return view.fetch(JOB_SUMMARIES, [(str(j),) for j in self.jobs])

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def each_open_job_stands_where_the_reference_says(self) -> None:
        """A finished job is checked once more at the end: no command may change it
        (``refused`` checks that each one recorded nothing)."""
        self.check(self.open_jobs())

    def check(self, jobs: list[JobModel]) -> None:
        for model in jobs:
            job = self.ledger.get(model.job_id)
            assert job.status_value in STATUSES
            assert job.status is model.status, model
            assert job.attempt == model.attempt <= job.max_attempts == model.max_attempts
            assert job.progress == model.progress
            assert job.cancellation_requested == model.cancel_requested
            assert job.not_before == model.not_before
            assert (job.lease_id, job.agent, job.lease_expires_at) == (
                model.lease,
                model.agent,
                model.lease_until,
            )
            assert (job.lease_id is not None) == (job.status in LEASED)
            holders = [g for g in self.grants if g.job_id == job.id and g.lease == job.lease_id]
            expected = (
                [Grant(model.agent, job.id, model.lease)] if model.agent and model.lease else []
            )
            assert holders == expected, "a job is held by one worker at most, the one it names"


# -- jobs of tasks: named workers claim, renew, finish; the sweeper times tasks out ------

SUBJECTS = ("sha256:aa", "sha256:bb")
TASK_UPDATES = ("executing", "successful", "failed")
MAX_OPEN_TASK_JOBS = 3


@dataclass
class TaskModel:
    worker: str
    task_id: str
    state: str = "enqueued"
    lease: str | None = None
    lease_until: datetime | None = None
    lease_length: timedelta | None = None
    score: int | None = None

    @property
    def final(self) -> bool:
        return self.state not in ("enqueued", "executing")

    def settle(self, state: str) -> None:
        self.state, self.lease, self.lease_until = state, None, None


@dataclass
class TaskJobModel:
    job_id: UUID
    subject: str
    created_at: datetime
    tasks: dict[str, TaskModel]
    status: JobStatus = QUEUED
    verdict: int | None = None


@dataclass(frozen=True)
class TaskGrant:
    worker: str
    job_id: UUID
    task_id: str
    lease: str


class TaskWorkerProtocol(WorkerProtocol):
    """The protocol above, with jobs of tasks beside the plain jobs: a named worker
    claims its task (oldest first), renews, succeeds or fails under its lease; a late
    worker is fenced out; the sweeper times out lapsed tasks; a cancel cancels the open
    tasks; and the last final task decides the job by the verdict rule written here."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.task_jobs: dict[UUID, TaskJobModel] = {}
        self.task_grants: list[TaskGrant] = []
        self.results: list[tuple[str, str, datetime, UUID, int]] = []  # subject, worker, ...

    def open_task_jobs(self) -> list[TaskJobModel]:
        return [j for j in self.task_jobs.values() if not j.status.is_terminal]

    @precondition(lambda self: len(self.open_task_jobs()) < MAX_OPEN_TASK_JOBS)
    @rule(
        workers=st.lists(st.sampled_from(AGENTS), min_size=1, max_size=3, unique=True),
        subject=st.sampled_from(SUBJECTS),
    )
    def analyst_submits_tasks(self, workers: list[str], subject: str) -> None:
        self.clock.advance(seconds=0.001)
        outcome = self.ledger.submit(ANALYST, "threat_modelling", subject=subject, workers=workers)
        job = outcome.job
        assert job is not None
        tasks = {t["task_id"]: TaskModel(t["worker"], t["task_id"]) for t in job.tasks.values()}
        assert sorted(t.worker for t in tasks.values()) == sorted(workers)
        self.task_jobs[job.id] = TaskJobModel(job.id, subject, self.clock.now, tasks)

    @rule(agent=st.sampled_from(AGENTS), lease_seconds=st.sampled_from(LEASE_LENGTHS))
    def analyzer_claims_a_task(self, agent: str, lease_seconds: float) -> None:
        self.catch_up()
        from jobledger.adapters.store.sql.task_reads import claimable_tasks

        async def candidates() -> list[str]:
            async with self.reads.store() as store:
                return await claimable_tasks(store, ANALYST.tenant, agent, 16)

        found = self.loop.run_until_complete(candidates())
        expected = sorted(
            (
                j
                for j in self.open_task_jobs()
                for t in j.tasks.values()
                if t.worker == agent and t.state == "enqueued"
            ),
            key=lambda j: (j.created_at, str(j.job_id)),
        )
        outcome = self.ledger.tasks.claim_next(
            Actor(agent, ANALYST.tenant), [UUID(c) for c in found], lease_seconds=lease_seconds
        )
        if not expected:
            assert outcome is None
            return
        assert outcome is not None
        assert outcome.lease_id is not None
        job = expected[0]
        assert outcome.job_id == job.job_id
        task = next(t for t in job.tasks.values() if t.worker == agent)
        task.state, task.lease = "executing", outcome.lease_id
        task.lease_length = timedelta(seconds=lease_seconds)
        task.lease_until = self.clock.now + task.lease_length
        job.status = RUNNING
        self.task_grants.append(TaskGrant(agent, job.job_id, task.task_id, outcome.lease_id))

    def task_of(self, grant: TaskGrant) -> tuple[TaskJobModel, TaskModel]:
        job = self.task_jobs[grant.job_id]
        return job, job.tasks[grant.task_id]

    def holding_tasks(self) -> list[TaskGrant]:
        return [g for g in self.task_grants if self.task_of(g)[1].lease == g.lease]

    @precondition(lambda self: self.task_grants)
    @rule(
        data=st.data(),
        state=st.sampled_from(TASK_UPDATES),
        score=st.integers(min_value=-1, max_value=100),
        pause=st.sampled_from(PAUSES),
    )
    def analyzer_updates_its_task(
        self, data: st.DataObject, state: str, score: int, pause: float
    ) -> None:
        """Mostly under a lease it holds; now and then a late one, fenced out."""
        grants = self.holding_tasks() * 3 + self.task_grants[-4:]
        grant = data.draw(st.sampled_from(grants), label="task grant")
        job, task = self.task_of(grant)
        self.clock.advance(seconds=pause)
        fields: dict[str, Any] = {}
        if state == "successful":
            fields = {"score": score, "analyses": ["an-1"]}
        elif state == "failed":
            fields = {"error_code": "crashed", "error_message": "oom"}

        def call() -> object:
            return self.ledger.tasks.update(
                Actor(grant.worker, ANALYST.tenant),
                job.job_id,
                task.task_id,
                lease_id=grant.lease,
                state=state,
                **fields,
            )

        if task.lease != grant.lease:  # finished, timed out or cancelled: a task is claimed once
            self.refused(job, call, IllegalTransition)
            return
        call()
        now = self.clock.now
        if state == "executing":
            assert task.lease_length is not None
            task.lease_until = now + task.lease_length
            return
        task.settle(state)
        if state == "successful":
            task.score = score
            self.results.append((job.subject, task.worker, job.created_at, job.job_id, score))
        self.decide(job)

    @precondition(lambda self: self.task_jobs)
    @rule(data=st.data())
    def analyst_cancels_a_job_of_tasks(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(list(self.task_jobs.values())[-4:]), label="job")

        def cancel() -> object:
            return self.ledger.cancel(ANALYST, job.job_id, reason="not needed")

        if job.status.is_terminal:
            self.refused(job, cancel, IllegalTransition)
            return
        cancel()
        for task in job.tasks.values():
            if not task.final:
                task.settle("cancelled")
        job.status = CANCELLED

    def decide(self, job: TaskJobModel) -> None:
        """The verdict rule, plainly: once every task is final."""
        if not all(t.final for t in job.tasks.values()):
            return
        counted = []
        for task in job.tasks.values():
            if task.state == "successful":
                counted.append(task.score)
            elif task.state in ("failed", "timeout"):
                earlier = [
                    r[4]
                    for r in self.results
                    if r[0] == job.subject and r[1] == task.worker and r[2] < job.created_at
                ]
                if earlier:
                    counted.append(earlier[-1])
        if not counted:
            job.status, job.verdict = FAILED, None
            return
        certain = [c for c in counted if c != -1]
        job.status, job.verdict = COMPLETED, max(certain) if certain else -1

    def sweeper_sweeps(self, caught_up: bool) -> None:
        """Plain jobs as above, and the tasks whose lease has run out as the tasks read
        model shows them: a stale row may miss a lapse, never end a lease still running."""
        now = self.clock.now
        if caught_up:
            self.catch_up()
        view = self.runner.projection("tasks").view
        rows = view.fetch(
            TASKS,
            [(str(j.job_id), t.task_id) for j in self.task_jobs.values() for t in j.tasks.values()],
        )
        lapsing = [
            (job, task)
            for job in self.task_jobs.values()
            for task in job.tasks.values()
            if (row := rows.get((str(job.job_id), task.task_id))) is not None
            and row["state"] == "executing"
            and row["lease_expires_at"] <= now
            and task.state == "executing"
            and task.lease_until is not None
            and task.lease_until <= now
        ]
        self.expected_task_expiries = len(lapsing)
        super().sweeper_sweeps(caught_up=False)
        for job, task in lapsing:
            task.settle("timeout")
            self.decide(job)

    def expected_sweeps(self, jobs: int) -> int:
        return jobs + getattr(self, "expected_task_expiries", 0)

    def settle(self) -> None:
        last = max(
            (
                t.lease_until
                for j in self.task_jobs.values()
                for t in j.tasks.values()
                if t.lease_until
            ),
            default=self.clock.now,
        )
        self.clock.advance(seconds=max((last - self.clock.now).total_seconds(), 0))
        super().settle()
        for job in self.task_jobs.values():
            status = self.ledger.get(job.job_id).status
            assert status in (QUEUED, RUNNING) or status.is_terminal
            assert not any(t.state == "executing" for t in job.tasks.values())

    @invariant()
    def each_job_of_tasks_stands_where_the_reference_says(self) -> None:
        for model in self.task_jobs.values():
            job = self.ledger.get(model.job_id)
            assert job.status is model.status, model
            for task in model.tasks.values():
                stored = job.tasks[task.task_id]
                assert (stored["state"], stored["lease_id"], stored["lease_expires_at"]) == (
                    task.state,
                    task.lease,
                    task.lease_until,
                ), task
            if model.status is COMPLETED:
                assert job.verdict is not None
                assert job.verdict["score"] == model.verdict


# PostgreSQL costs about eight times SQLite per step; the rules under test are the
# same, so it walks fewer histories (the store-specific parts are its locks and clock).
PROTOCOL_EXAMPLES = {"sqlite": 30, "postgres": 8}


def protocol_settings(kind: str) -> settings:
    return settings(
        max_examples=PROTOCOL_EXAMPLES[kind],
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("kind", STORES)
def test_workers_never_share_a_job_and_every_job_settles(kind: str) -> None:
    if kind == "postgres":
        require_postgres()
    run_state_machine_as_test(lambda: TaskWorkerProtocol(kind), settings=protocol_settings(kind))  # type: ignore[arg-type]
