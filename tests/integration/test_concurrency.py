"""Optimistic concurrency: a conflict is an error the caller sees, never a lost write."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from uuid import UUID

import pytest

from jobledger.domain.errors import ConcurrencyConflict
from jobledger.domain.ledger import Ledger, utc_now
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, WORKER, running_job


def clock_meeting_at(barrier: threading.Barrier) -> Callable[[], datetime]:
    """A clock that holds each writer, after it loaded the job, until both have."""
    first_call = threading.local()

    def now() -> datetime:
        if not getattr(first_call, "done", False):
            first_call.done = True
            barrier.wait(timeout=10)
        return utc_now()

    return now


def race(open_ledger: Callable[..., Ledger], job_id: UUID, expected: int | None) -> list[object]:
    """Two writers in two ledgers (two connections) change one job at the same moment."""
    barrier = threading.Barrier(2)
    writers = [open_ledger(clock=clock_meeting_at(barrier)) for _ in range(2)]

    def write(n: int) -> object:
        meta = CommandMeta(expected_version=expected)
        try:
            return writers[n].record_usage(
                WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=10**n, meta=meta
            )
        except ConcurrencyConflict as error:
            return error

    reader = open_ledger()
    lease = reader.get(job_id).lease_id
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(write, range(2)))


def test_two_writers_at_the_same_version_one_wins_the_other_gets_a_conflict(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    job_id, _ = running_job(ledger)
    version = ledger.get(job_id).version

    outcomes = race(open_ledger, job_id, expected=version)

    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert ledger.get(job_id).version == version + 1
    assert "changed concurrently" in str(conflicts[0])


def test_a_stale_expected_version_is_refused_before_anything_is_written(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    job_id, _ = running_job(ledger)
    with pytest.raises(ConcurrencyConflict, match="expected version 2, found 3"):
        ledger.cancel(ANALYST, job_id, meta=CommandMeta(expected_version=2))
    assert ledger.get(job_id).version == 3


def test_without_an_expected_version_the_loser_revalidates_and_both_land(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    job_id, _ = running_job(ledger)
    version = ledger.get(job_id).version

    outcomes = race(open_ledger, job_id, expected=None)

    assert not any(isinstance(o, ConcurrencyConflict) for o in outcomes)
    assert ledger.get(job_id).version == version + 2
    assert ledger.get(job_id).tokens["input"] == 1 + 10
