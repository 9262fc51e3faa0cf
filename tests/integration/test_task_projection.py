"""The tasks read model on both stores: what the events say, and the same after a rebuild."""

from __future__ import annotations

import json
from typing import Any

from jobledger.adapters.bootstrap import build_runner
from jobledger.domain.ledger import Ledger
from tests.conftest import MovableClock, select
from tests.integration.history_of_every_event import write_task_events


def rows(ledger: Ledger, table: str) -> list[dict[str, Any]]:
    return select(ledger, f"SELECT * FROM {table} ORDER BY job_id, 2")


def test_tasks_and_verdicts_read_as_the_events_say_and_rebuild_identically(
    ledger: Ledger, clock: MovableClock
) -> None:
    decided, undecided, dropped = write_task_events(ledger, clock.advance)
    runner = build_runner(ledger)
    runner.catch_up()
    by_worker = {(r["job_id"], r["worker"]): r for r in select(ledger, "SELECT * FROM tasks")}
    yara = by_worker[(str(decided), "yara")]
    assert (yara["state"], yara["score"], json.loads(yara["analyses"])) == (
        "successful",
        80,
        ["an-1"],
    )
    assert by_worker[(str(decided), "av")]["error_code"] == "crashed"
    assert by_worker[(str(decided), "box")]["state"] == "timeout"
    assert by_worker[(str(dropped), "yara")]["state"] == "cancelled"
    verdicts = {r["job_id"]: r for r in select(ledger, "SELECT * FROM verdicts")}
    assert verdicts[str(decided)]["score"] == 80
    assert [c["source"] for c in json.loads(verdicts[str(decided)]["counted"])] == ["task"]
    assert verdicts[str(undecided)]["score"] is None
    assert str(dropped) not in verdicts
    before = (rows(ledger, "tasks"), rows(ledger, "verdicts"))
    runner.rebuild("tasks")
    assert (rows(ledger, "tasks"), rows(ledger, "verdicts")) == before


def test_statistics_count_scores_and_timeouts_by_worker(
    ledger: Ledger, clock: MovableClock
) -> None:
    from jobledger.adapters.bootstrap import read_pool
    from jobledger.adapters.store.sql.read_store import ask
    from jobledger.adapters.store.sql.task_reads import task_statistics

    write_task_events(ledger, clock.advance)
    build_runner(ledger).catch_up()
    found = ask(read_pool(ledger, size=1), lambda store: task_statistics(store, "acme")).value
    by_worker = {w.worker: w for w in found.workers}
    assert (by_worker["yara"].tasks, by_worker["yara"].successful) == (3, 1)
    assert (by_worker["yara"].failed, by_worker["yara"].cancelled) == (1, 1)
    assert by_worker["yara"].score_max == 80
    assert (by_worker["box"].timeouts, by_worker["av"].failed) == (1, 1)
    assert (found.verdicts.decided, found.verdicts.verdicts, found.verdicts.no_verdict) == (2, 1, 1)
