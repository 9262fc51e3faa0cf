"""``execute_many``: worker commands of several jobs decided in turn and stored in one
transaction, and, when another writer gets there first, each decided again alone; on
both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from jobledger.domain.bounds import MAX_COMMAND_BATCH
from jobledger.domain.command_batch import Run, execute_many
from jobledger.domain.errors import ConcurrencyConflict, LeaseMismatch, TooLarge
from jobledger.domain.ledger import Ledger, Outcome
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, WORKER
from tests.integration.test_group_commit import group_of


def claimed(ledger: Ledger, n: int) -> list[tuple[UUID, str]]:
    jobs = []
    for _ in range(n):
        job_id = ledger.submit(ANALYST, "graph_analysis").job_id
        lease = ledger.claim(WORKER, job_id, agent="worker-1").lease_id
        assert lease is not None
        jobs.append((job_id, lease))
    return jobs


def start(ledger: Ledger, job_id: UUID, lease: str, command_id: str | None = None) -> Run:
    meta = CommandMeta(command_id=command_id)
    return lambda: ledger.start(WORKER, job_id, lease_id=lease, meta=meta)


def beat(ledger: Ledger, job_id: UUID, lease: str) -> Run:
    return lambda: ledger.heartbeat(WORKER, job_id, lease_id=lease)


def test_the_commands_of_a_batch_are_stored_in_one_transaction(ledger: Ledger) -> None:
    jobs = claimed(ledger, 10)
    group = group_of(ledger)
    before = group.transactions
    runs = [start(ledger, job, lease, f"s{n}") for n, (job, lease) in enumerate(jobs)]
    runs.append(start(ledger, jobs[0][0], "stale"))
    answers = execute_many(ledger, WORKER, runs)
    assert group.transactions - before == 1
    assert all(
        isinstance(a, Outcome) and a.state and a.state.status == "running" for a in answers[:10]
    )
    assert isinstance(answers[10], LeaseMismatch)
    positions = [a.position for a in answers[:10] if isinstance(a, Outcome)]
    assert None not in positions
    assert len(set(positions)) == 10
    assert all(ledger.get(job).status.value == "running" for job, _ in jobs)


def test_a_batch_whose_job_another_writer_moved_on_runs_each_command_alone(
    ledger: Ledger,
) -> None:
    """Another writer stores a heartbeat of job A while the batch is deciding: the
    batch's save conflicts, nothing of it is stored, and each command then runs alone,
    in order, and succeeds."""
    (a, lease_a), (b, lease_b) = claimed(ledger, 2)

    def meanwhile() -> Outcome:
        with ThreadPoolExecutor(1) as other:  # another thread: not part of the batch
            other.submit(ledger.heartbeat, WORKER, a, lease_id=lease_a).result()
        return ledger.heartbeat(WORKER, b, lease_id=lease_b)

    answers = execute_many(ledger, WORKER, [beat(ledger, a, lease_a), meanwhile])
    assert all(isinstance(answer, Outcome) for answer in answers), answers
    # A: claimed, the other writer's heartbeat twice (the batch's run and its rerun), and
    # the batch's own heartbeat once; B: claimed and one heartbeat.
    assert (ledger.get(a).version, ledger.get(b).version) == (5, 3)


def test_racing_batches_record_what_they_acknowledge_and_nothing_else(ledger: Ledger) -> None:
    """A command that loses every race, alone as in a batch, is refused (409); every
    acknowledged heartbeat is recorded once, and no refused one."""
    jobs = claimed(ledger, 3)
    batch = [beat(ledger, job, lease) for job, lease in jobs]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: execute_many(ledger, WORKER, batch), range(12)))
    answers = [answer for run in runs for answer in run]
    assert all(isinstance(a, Outcome | ConcurrencyConflict) for a in answers), answers
    for job, _ in jobs:
        done = sum(1 for a in answers if isinstance(a, Outcome) and a.job_id == job)
        assert done > 0
        assert ledger.get(job).version == 2 + done  # submitted, claimed, then these


def test_more_than_the_bound_is_refused_whole(ledger: Ledger) -> None:
    ((job, lease),) = claimed(ledger, 1)
    before = ledger.recorder.max_notification_id()
    with pytest.raises(TooLarge, match="commands"):
        execute_many(ledger, WORKER, [beat(ledger, job, lease)] * (MAX_COMMAND_BATCH + 1))
    assert ledger.recorder.max_notification_id() == before
