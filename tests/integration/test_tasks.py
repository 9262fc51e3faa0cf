"""Jobs of tasks on a real SQLite file: one task per named worker, fencing, the job
following its tasks, and a verdict an auditor can replay."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from jobledger.domain.errors import (
    IllegalTransition,
    InvalidCommand,
    LeaseMismatch,
    NotNamedWorker,
)
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.task_events import VerdictReached
from jobledger.domain.task_lifecycle import IllegalTaskTransition
from jobledger.domain.task_work import task_id_of
from jobledger.domain.values import Actor
from tests.conftest import ANALYST, WORKER, MovableClock

pytestmark = pytest.mark.rules

SAMPLE = "sha256:9f86d081884c7d65"


def named(worker: str) -> Actor:
    return Actor(worker, "acme")


def submit(ledger: Ledger, *workers: str, subject: str = SAMPLE) -> UUID:
    return ledger.submit(ANALYST, "threat_modelling", subject=subject, workers=list(workers)).job_id


def run(ledger: Ledger, job_id: UUID, worker: str, state: str, **fields: object) -> None:
    """The named worker claims its task and reports how it ended."""
    lease = ledger.tasks.claim(named(worker), job_id).lease_id
    assert lease is not None
    ledger.tasks.update(
        named(worker),
        job_id,
        task_id_of(job_id, worker),
        lease_id=lease,
        state=state,
        **fields,  # type: ignore[arg-type]
    )


def test_one_task_per_named_worker_each_enqueued(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara", "clamav", "sandbox")
    job = ledger.get(job_id)
    assert job.subject == SAMPLE
    assert job.status is JobStatus.QUEUED
    assert sorted(t["worker"] for t in job.tasks.values()) == ["clamav", "sandbox", "yara"]
    assert {t["state"] for t in job.tasks.values()} == {"enqueued"}


@pytest.mark.parametrize(
    ("workers", "field"),
    [([], "workers"), (["a", "a"], "workers"), (["a"] * 0 + [""], "workers.0")],
)
def test_a_bad_worker_list_is_refused_naming_the_field(
    ledger: Ledger, workers: list[str], field: str
) -> None:
    with pytest.raises(InvalidCommand, match=field):
        ledger.submit(ANALYST, "threat_modelling", subject=SAMPLE, workers=workers)


def test_a_job_of_tasks_is_never_claimed_whole(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara")
    with pytest.raises(IllegalTransition, match="claim_task"):
        ledger.claim(WORKER, job_id, agent="worker-1")


def test_only_the_named_worker_claims_or_updates_its_task(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara", "clamav")
    with pytest.raises(NotNamedWorker):
        ledger.tasks.claim(named("intruder"), job_id)  # no task of its own
    lease = ledger.tasks.claim(named("yara"), job_id).lease_id
    assert lease is not None
    before = ledger.get(job_id).version
    with pytest.raises(NotNamedWorker):
        ledger.tasks.update(
            named("clamav"),
            job_id,
            task_id_of(job_id, "yara"),
            lease_id=lease,
            state="successful",
            score=10,
        )
    assert ledger.get(job_id).version == before


def test_the_job_runs_once_a_task_executes(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara", "clamav")
    ledger.tasks.claim(named("yara"), job_id)
    job = ledger.get(job_id)
    assert job.status is JobStatus.RUNNING
    assert job.tasks[task_id_of(job_id, "yara")]["state"] == "executing"


@pytest.mark.parametrize("score", [101, -2])
def test_a_score_out_of_bounds_is_refused_and_nothing_recorded(ledger: Ledger, score: int) -> None:
    job_id = submit(ledger, "yara")
    lease = ledger.tasks.claim(named("yara"), job_id).lease_id
    before = ledger.get(job_id).version
    with pytest.raises(InvalidCommand, match="score"):
        ledger.tasks.update(
            named("yara"),
            job_id,
            task_id_of(job_id, "yara"),
            lease_id=lease or "",
            state="successful",
            score=score,
        )
    assert ledger.get(job_id).version == before


def test_a_stale_lease_is_refused(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara")
    ledger.tasks.claim(named("yara"), job_id)
    with pytest.raises(LeaseMismatch):
        ledger.tasks.update(
            named("yara"),
            job_id,
            task_id_of(job_id, "yara"),
            lease_id="stale",
            state="successful",
            score=5,
        )


def test_a_final_task_is_not_moved_again(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara", "clamav")
    lease = ledger.tasks.claim(named("yara"), job_id).lease_id or ""
    task = task_id_of(job_id, "yara")
    ledger.tasks.update(named("yara"), job_id, task, lease_id=lease, state="successful", score=5)
    before = ledger.get(job_id).version
    with pytest.raises((IllegalTaskTransition, LeaseMismatch)):
        ledger.tasks.update(
            named("yara"), job_id, task, lease_id=lease, state="failed", error_code="late"
        )
    assert ledger.get(job_id).version == before


def test_the_last_final_task_brings_the_verdict_as_the_result(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara", "clamav", "sandbox")
    run(ledger, job_id, "yara", "successful", score=-1, analyses=["a-1"])
    run(ledger, job_id, "clamav", "successful", score=42)
    assert ledger.get(job_id).status is JobStatus.RUNNING
    run(ledger, job_id, "sandbox", "failed", error_code="crashed", error_message="oom")
    job = ledger.get(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.verdict is not None
    assert job.verdict["score"] == 42
    assert job.result is not None
    assert job.result["findings"][0]["kind"] == "verdict"
    verdict = ledger.job_events(job_id)[-1]
    assert isinstance(verdict, VerdictReached)
    assert [(c["worker"], c["score"], c["source"]) for c in verdict.counted] == [
        ("yara", -1, "task"),
        ("clamav", 42, "task"),
    ]


def test_nothing_counted_fails_the_job_with_no_verdict(ledger: Ledger) -> None:
    job_id = submit(ledger, "yara")
    run(ledger, job_id, "yara", "failed", error_code="crashed")
    job = ledger.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "no_verdict"


def expire(ledger: Ledger, clock: MovableClock, job_id: UUID, worker: str) -> None:
    ledger.tasks.claim(named(worker), job_id, lease_seconds=30)
    clock.advance(seconds=31)
    ledger.tasks.expire_lease(
        Actor("jobledger-sweeper", "acme"), job_id, task_id_of(job_id, worker)
    )


def test_a_timed_out_task_counts_its_workers_earlier_result_on_the_same_subject(
    ledger: Ledger, clock: MovableClock
) -> None:
    first = submit(ledger, "yara")
    run(ledger, first, "yara", "successful", score=77)
    clock.advance(seconds=1)
    second = submit(ledger, "yara")
    expire(ledger, clock, second, "yara")
    job = ledger.get(second)
    assert job.tasks[task_id_of(second, "yara")]["state"] == "timeout"
    assert job.status is JobStatus.COMPLETED
    assert job.verdict is not None
    (counted,) = job.verdict["counted"]
    assert (counted["score"], counted["source"]) == (77, "earlier")
    assert (counted["source_job_id"], counted["source_task_id"]) == (
        str(first),
        task_id_of(first, "yara"),
    )


def test_an_earlier_result_on_another_subject_does_not_count(
    ledger: Ledger, clock: MovableClock
) -> None:
    first = submit(ledger, "yara", subject="sha256:other")
    run(ledger, first, "yara", "successful", score=77)
    clock.advance(seconds=1)
    second = submit(ledger, "yara")
    expire(ledger, clock, second, "yara")
    assert ledger.get(second).status is JobStatus.FAILED


def test_a_later_jobs_result_is_not_an_earlier_one(ledger: Ledger, clock: MovableClock) -> None:
    older = submit(ledger, "yara", "clamav")
    clock.advance(seconds=1)
    newer = submit(ledger, "yara")
    run(ledger, newer, "yara", "successful", score=90)
    run(ledger, older, "yara", "failed", error_code="x")
    run(ledger, older, "clamav", "successful", score=10)
    verdict = ledger.get(older).verdict
    assert verdict is not None
    assert verdict["score"] == 10


def test_cancelling_the_job_cancels_its_open_tasks_and_none_counts(
    ledger: Ledger, clock: MovableClock
) -> None:
    first = submit(ledger, "yara")
    run(ledger, first, "yara", "successful", score=77)
    second = submit(ledger, "yara", "clamav")
    run(ledger, second, "clamav", "successful", score=5)
    ledger.tasks.claim(named("yara"), second)
    ledger.cancel(ANALYST, second, reason="enough")
    job = ledger.get(second)
    assert job.status is JobStatus.CANCELLED
    assert job.verdict is None
    states = {t["worker"]: t["state"] for t in job.tasks.values()}
    assert states == {"yara": "cancelled", "clamav": "successful"}


def test_the_verdict_is_the_same_after_a_restart(
    open_ledger: Callable[..., Ledger], clock: MovableClock
) -> None:
    ledger = open_ledger(clock=clock)
    first = submit(ledger, "yara")
    run(ledger, first, "yara", "successful", score=61)
    clock.advance(seconds=1)
    second = submit(ledger, "yara", "clamav")
    run(ledger, second, "clamav", "successful", score=-1)
    expire(ledger, clock, second, "yara")
    before = ledger.get(second).verdict
    ledger.close()
    again = open_ledger(clock=clock)
    assert again.get(second).verdict == before
    assert before is not None
    assert before["score"] == 61


def test_a_retried_claim_returns_the_same_lease(ledger: Ledger) -> None:
    from jobledger.domain.values import CommandMeta

    job_id = submit(ledger, "yara")
    meta = CommandMeta(command_id="c-1")
    first = ledger.tasks.claim(named("yara"), job_id, meta=meta)
    again = ledger.tasks.claim(named("yara"), job_id, meta=meta)
    assert again.replayed
    assert again.lease_id == first.lease_id
