"""The lease sweeper, on both stores, with ledger time the test moves."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from jobledger.adapters.bootstrap import build_runner, build_sweeper
from jobledger.adapters.settings import Settings
from jobledger.adapters.sweeper import SWEEPER, LeaseSweeper
from jobledger.domain import events as ev
from jobledger.domain.errors import LeaseMismatch
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.projections.runner import ProjectionRunner
from tests.conftest import ANALYST, WORKER, MovableClock

LEASE = 60


def claimed(ledger: Ledger, max_attempts: int = 3) -> tuple[UUID, str]:
    job_id = ledger.submit(ANALYST, "graph_analysis", max_attempts=max_attempts).job_id
    lease = ledger.claim(WORKER, job_id, agent="worker-1", lease_seconds=LEASE).lease_id
    assert lease is not None
    ledger.start(WORKER, job_id, lease_id=lease)
    return job_id, lease


@pytest.fixture
def sweep(ledger: Ledger, store: Settings) -> tuple[ProjectionRunner, LeaseSweeper]:
    runner = build_runner(ledger)
    return runner, build_sweeper(ledger, runner, store)


def sweep_now(parts: tuple[ProjectionRunner, LeaseSweeper]) -> int:
    runner, sweeper = parts
    runner.catch_up()
    return sweeper.sweep()


def test_an_expired_lease_requeues_the_job_for_its_next_attempt(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    job_id, lease = claimed(ledger)
    clock.advance(seconds=LEASE - 1)
    assert sweep_now(sweep) == 0  # not yet
    clock.advance(seconds=2)
    assert sweep_now(sweep) == 1
    job = ledger.get(job_id)
    assert (job.status, job.attempt, job.agent) == (JobStatus.QUEUED, 2, None)
    expired = ledger.job_events(job_id)[-1]
    assert isinstance(expired, ev.LeaseExpired)
    assert (expired.actor, expired.outcome, expired.attempt) == (SWEEPER, "requeued", 1)
    second = ledger.claim(WORKER, job_id, agent="worker-2").lease_id  # another worker takes it
    assert second is not None
    ledger.start(WORKER, job_id, lease_id=second)
    with pytest.raises(LeaseMismatch):  # the late first worker is fenced out
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    assert sweep_now(sweep) == 0  # once is enough


def test_a_heartbeat_keeps_the_lease(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    job_id, lease = claimed(ledger)
    clock.advance(seconds=LEASE - 10)
    ledger.heartbeat(WORKER, job_id, lease_id=lease, lease_seconds=LEASE)
    clock.advance(seconds=20)
    assert sweep_now(sweep) == 0
    clock.advance(seconds=LEASE)
    assert sweep_now(sweep) == 1


def test_a_stale_read_model_cannot_expire_a_renewed_lease(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    runner, sweeper = sweep
    job_id, lease = claimed(ledger)
    runner.catch_up()
    clock.advance(seconds=LEASE + 1)
    ledger.heartbeat(WORKER, job_id, lease_id=lease, lease_seconds=LEASE)  # not yet projected
    end = ledger.recorder.max_notification_id()
    assert sweeper.sweep() == 0  # the read model says expired; the Job says no
    assert ledger.recorder.max_notification_id() == end
    assert ledger.get(job_id).status is JobStatus.RUNNING


def test_on_the_last_attempt_the_job_fails_with_lease_expired(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    job_id, _ = claimed(ledger, max_attempts=1)
    clock.advance(seconds=LEASE + 1)
    assert sweep_now(sweep) == 1
    job = ledger.get(job_id)
    assert job.status is JobStatus.FAILED
    assert (job.error or {})["code"] == "lease_expired"


def test_a_cancel_never_acknowledged_ends_cancelled_not_requeued(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    job_id, _ = claimed(ledger)
    ledger.cancel(ANALYST, job_id, reason="wrong corpus")
    clock.advance(seconds=LEASE + 1)
    assert sweep_now(sweep) == 1
    assert ledger.get(job_id).status is JobStatus.CANCELLED


def test_only_one_sweeper_holds_the_lock(
    ledger: Ledger, store: Settings, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    """On PostgreSQL an advisory lock, on SQLite a lock file beside the ledger: either
    way another process's sweeper stands by, and takes over when the first goes."""
    runner, first = sweep
    second = build_sweeper(ledger, runner, store)
    try:
        assert first.lock.held()
        assert not second.lock.held()  # another process's sweeper stands by
        first.lock.release()  # as when the first process dies
        # The server frees a session's locks once it has ended the session: soon after.
        deadline = time.monotonic() + 5
        while not second.lock.held():
            assert time.monotonic() < deadline, "the lock was never taken over"
            time.sleep(0.05)
        assert not first.lock.held()
    finally:
        first.lock.release()
        second.lock.release()


class FailingOnce:
    """The real read-model writer, whose first look for expired leases fails."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.failed = False

    def expired_leases(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug, or a driver error nobody foresaw")
        found: list[tuple[str, str]] = self.view.expired_leases(now, limit)
        return found


def test_a_sweep_that_fails_is_tried_again_rather_than_given_up(
    ledger: Ledger, clock: MovableClock, sweep: tuple[ProjectionRunner, LeaseSweeper]
) -> None:
    runner, sweeper = sweep
    job_id, _ = claimed(ledger)
    clock.advance(seconds=LEASE + 1)
    runner.catch_up()
    flaky = LeaseSweeper(ledger, FailingOnce(sweeper.view), sweeper.lock, interval=0.05)  # type: ignore[arg-type]
    stop = threading.Event()
    thread = flaky.start(stop)
    try:
        deadline = time.monotonic() + 10
        while ledger.get(job_id).status is not JobStatus.QUEUED:
            assert thread.is_alive(), "the sweeper gave up after one failure"
            assert time.monotonic() < deadline, "the job's lease was never swept"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
