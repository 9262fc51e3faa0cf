"""A catch-up reads stored rows in a few queries per batch, however many events it holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

import pytest

from jobledger.adapters.bootstrap import build_runner
from jobledger.domain.ledger import Ledger
from jobledger.projections.base import Key, ReadModelView, Row
from jobledger.projections.schema import Table
from tests.conftest import WORKER, MovableClock, running_job


def count_reads(view: ReadModelView, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the view's reads per table; the reads still go to the real store."""
    reads: Counter[str] = Counter()
    real_fetch = view.fetch

    def fetch(table: Table, keys: Collection[Key]) -> dict[Key, Row]:
        reads[table.name] += 1
        return real_fetch(table, keys)

    monkeypatch.setattr(view, "fetch", fetch)
    return reads


def test_a_batch_of_many_completed_jobs_reads_each_table_at_most_twice(
    ledger: Ledger, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seconds in range(1, 41):  # each job's run lands in a duration bucket of its own
        job_id, lease = running_job(ledger)
        clock.advance(seconds=seconds * 7)
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    runner = build_runner(ledger)
    runner.batch_size = 1000
    reads = count_reads(next(iter(runner.projections.values())).view, monkeypatch)
    runner.catch_up()
    assert reads, "the catch-up read nothing"
    assert max(reads.values()) <= 2, reads
