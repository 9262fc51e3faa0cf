"""Auditors rebuild a job as it stood at any version or moment; snapshots keep it fast."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobledger.domain.errors import InvalidCommand
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from tests.conftest import ANALYST, WORKER, MovableClock, running_job


def test_replay_by_version_and_by_moment(ledger: Ledger, clock: MovableClock) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    submitted_at = clock.now
    clock.advance(minutes=1)
    ledger.claim(WORKER, job_id, agent="w")
    claimed_at = clock.now
    clock.advance(minutes=1)
    ledger.cancel(ANALYST, job_id)

    assert ledger.get(job_id, version=1).status is JobStatus.QUEUED
    assert ledger.get(job_id, version=2).status is JobStatus.CLAIMED
    assert ledger.get_as_of(job_id, submitted_at).version == 1
    assert ledger.get_as_of(job_id, claimed_at.replace(second=30)).status is JobStatus.CLAIMED
    assert ledger.get_as_of(job_id, clock.now).status is JobStatus.CANCELLED
    with pytest.raises(InvalidCommand, match="was submitted at"):
        ledger.get_as_of(job_id, submitted_at.replace(year=2020))
    with pytest.raises(InvalidCommand, match="time zone"):
        ledger.get_as_of(job_id, submitted_at.replace(tzinfo=None))
    with pytest.raises(InvalidCommand, match="versions 1 to 3"):
        ledger.get(job_id, version=4)


def test_a_long_job_loads_equal_with_and_without_snapshots(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    job_id, lease = running_job(ledger)
    for n in range(350):
        ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=n)
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(job_id))
    assert [s.originator_version for s in snapshots] == [100, 200, 300]

    from_snapshot = open_ledger().get(job_id)
    from_events_only = None
    for event in ledger.job_events(job_id):
        from_events_only = event.mutate(from_events_only)
    assert from_snapshot == from_events_only
    assert from_snapshot.tokens["input"] == sum(range(350))
    assert ledger.get(job_id, version=150).tokens["input"] == sum(range(147))
