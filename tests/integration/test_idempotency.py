"""A command id makes a retry safe: one event, the first outcome, even after a restart."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobledger.domain.errors import IdempotencyConflict
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, OTHER_TENANT, WORKER, running_job


def test_the_same_submit_twice_gives_one_job_and_one_event(ledger: Ledger) -> None:
    meta = CommandMeta(command_id="submit-42")
    first = ledger.submit(ANALYST, "graph_analysis", meta=meta)
    again = ledger.submit(ANALYST, "graph_analysis", meta=meta)
    assert again.job_id == first.job_id
    assert (first.replayed, again.replayed) == (False, True)
    assert len(ledger.job_events(first.job_id)) == 1


def test_a_retry_after_a_restart_is_recognised(open_ledger: Callable[..., Ledger]) -> None:
    meta = CommandMeta(command_id="cancel-7")
    before = open_ledger()
    job_id = before.submit(ANALYST, "graph_analysis").job_id
    before.cancel(ANALYST, job_id, reason="dup", meta=meta)
    before.close()

    after_restart = open_ledger()
    outcome = after_restart.cancel(ANALYST, job_id, reason="dup", meta=meta)
    assert outcome.replayed
    assert outcome.version == 2
    assert len(after_restart.job_events(job_id)) == 2


def test_a_command_id_reused_for_another_command_is_a_conflict(ledger: Ledger) -> None:
    meta = CommandMeta(command_id="c-1")
    ledger.submit(ANALYST, "graph_analysis", meta=meta)
    with pytest.raises(IdempotencyConflict):
        ledger.submit(ANALYST, "graph_analysis", priority=9, meta=meta)


def test_command_ids_are_scoped_to_the_tenant(ledger: Ledger) -> None:
    meta = CommandMeta(command_id="same-id")
    mine = ledger.submit(ANALYST, "graph_analysis", meta=meta)
    theirs = ledger.submit(OTHER_TENANT, "graph_analysis", meta=meta)
    assert mine.job_id != theirs.job_id
    assert not theirs.replayed


def test_a_retried_worker_command_is_acknowledged_once(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    meta = CommandMeta(command_id="usage-1")
    for _ in range(3):
        ledger.record_usage(
            WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=100, meta=meta
        )
    assert ledger.get(job_id).tokens["input"] == 100


def test_concurrent_retries_of_one_command_record_it_once(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledgers = [open_ledger() for _ in range(4)]
    meta = CommandMeta(command_id="burst")
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(
            pool.map(lambda lg: lg.submit(ANALYST, "graph_analysis", meta=meta), ledgers)
        )
    assert len({o.job_id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
