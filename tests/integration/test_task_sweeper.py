"""The lease sweeper times out tasks whose lease ran out, on both stores."""

from __future__ import annotations

from jobledger.adapters.bootstrap import build_runner, build_sweeper
from jobledger.adapters.settings import Settings
from jobledger.adapters.sweeper import SWEEPER
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.task_events import TaskTimedOut
from jobledger.domain.task_work import task_id_of
from jobledger.domain.values import Actor
from tests.conftest import ANALYST, MovableClock


def test_an_expired_task_lease_times_the_task_out_and_the_job_is_decided(
    ledger: Ledger, clock: MovableClock, store: Settings
) -> None:
    runner = build_runner(ledger)
    sweeper = build_sweeper(ledger, runner, store)
    job_id = ledger.submit(
        ANALYST, "threat_modelling", subject="sha256:sweep", workers=["yara", "av"]
    ).job_id
    yara, av = Actor("yara", "acme"), Actor("av", "acme")
    ledger.tasks.claim(yara, job_id, lease_seconds=60)
    lease = ledger.tasks.claim(av, job_id, lease_seconds=60).lease_id
    assert lease is not None
    clock.advance(seconds=50)
    ledger.tasks.update(av, job_id, task_id_of(job_id, "av"), lease_id=lease, state="executing")
    clock.advance(seconds=11)  # yara's lease ran out; av renewed its own
    runner.catch_up()
    assert sweeper.sweep() == 1
    job = ledger.get(job_id)
    assert job.tasks[task_id_of(job_id, "yara")]["state"] == "timeout"
    assert job.tasks[task_id_of(job_id, "av")]["state"] == "executing"
    timed_out = ledger.job_events(job_id)[-1]
    assert isinstance(timed_out, TaskTimedOut)
    assert timed_out.actor == SWEEPER
    ledger.tasks.update(
        av, job_id, task_id_of(job_id, "av"), lease_id=lease, state="successful", score=12
    )
    assert ledger.get(job_id).status is JobStatus.COMPLETED
    runner.catch_up()
    assert sweeper.sweep() == 0
