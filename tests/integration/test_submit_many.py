"""``Ledger.submit_many``: items answered on their own, the new ones stored together,
and racing batches with the same command ids give each one job, on both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from jobledger.domain.bounds import MAX_SUBMIT_BATCH
from jobledger.domain.errors import IdempotencyConflict, TooLarge, UnknownJobType
from jobledger.domain.ledger import Ledger, Outcome, Submission
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST


def keyed(key: str, job_type: str = "graph_analysis", **more: object) -> Submission:
    return Submission(job_type, meta=CommandMeta(command_id=key), **more)  # type: ignore[arg-type]


def test_a_refused_item_holds_back_none_of_the_others(ledger: Ledger) -> None:
    before = ledger.recorder.max_notification_id() or 0
    answers = ledger.submit_many(
        ANALYST, [keyed("a"), Submission("no_such_type"), keyed("b", priority=9)]
    )
    a, bad, b = answers
    assert isinstance(a, Outcome)
    assert isinstance(b, Outcome)
    assert isinstance(bad, UnknownJobType)
    assert ledger.get(b.job_id).priority == 9
    # two jobs and two receipts, in one transaction: consecutive positions
    assert (ledger.recorder.max_notification_id() or 0) - before == 4
    again = ledger.submit_many(ANALYST, [keyed("a"), keyed("b", priority=1)])
    assert isinstance(again[0], Outcome)
    assert again[0].replayed
    assert again[0].job_id == a.job_id
    assert isinstance(again[1], IdempotencyConflict)


def test_more_than_the_bound_is_refused_whole(ledger: Ledger) -> None:
    before = ledger.recorder.max_notification_id()
    with pytest.raises(TooLarge, match="jobs"):
        ledger.submit_many(ANALYST, [Submission("graph_analysis")] * (MAX_SUBMIT_BATCH + 1))
    assert ledger.recorder.max_notification_id() == before


def test_racing_batches_with_the_same_ids_give_each_id_one_job(ledger: Ledger) -> None:
    batch = [keyed(f"k{i}") for i in range(20)]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: ledger.submit_many(ANALYST, batch), range(4)))
    for i in range(20):
        outcomes = [run[i] for run in runs]
        assert all(isinstance(o, Outcome) for o in outcomes), outcomes
        assert len({o.job_id for o in outcomes if isinstance(o, Outcome)}) == 1
        assert sum(1 for o in outcomes if isinstance(o, Outcome) and not o.replayed) == 1
