"""The async read store (aiosqlite): what dashboards, reports and the API will ask."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

import pytest

from jobledger.adapters.bootstrap import build_ledger, build_runner, read_pool
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.read_store import (
    CostQuery,
    JobQuery,
    ReadStore,
    StatsQuery,
    parse_query,
)
from jobledger.adapters.store.sql.read_store import ask as ask_store
from jobledger.domain.errors import InvalidCommand, JobNotFound
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor
from tests.conftest import ANALYST, WORKER, MovableClock, running_job

T = TypeVar("T")


def ask(ledger: Ledger, question: Callable[[ReadStore], Awaitable[T]]) -> T:
    return ask_store(read_pool(ledger, size=1), question)


def submit_many(
    ledger: Ledger, clock: MovableClock, count: int, tenant: str = "acme"
) -> list[UUID]:
    ids = []
    for n in range(count):
        clock.advance(seconds=1 if n % 3 else 0)  # some jobs share a created_at
        ids.append(ledger.submit(Actor(f"analyst-{n % 2}", tenant), "graph_analysis").job_id)
    return ids


def test_paging_returns_every_job_exactly_once_while_new_jobs_arrive(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    existing = set(submit_many(ledger, clock, 30))
    runner.catch_up()
    seen: list[str] = []
    cursor = None
    while True:
        query = JobQuery(tenant="acme", limit=7, cursor=cursor)
        page = ask(ledger, lambda s, q=query: s.list_jobs(q))  # type: ignore[misc]
        seen += [row["job_id"] for row in page.items]
        submit_many(ledger, clock, 2)  # newer jobs land before the cursor, never after it
        runner.catch_up()
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert {str(i) for i in existing} <= set(seen)


def test_oldest_first_lists_in_submission_order(ledger: Ledger, clock: MovableClock) -> None:
    """Jobs submitted in the same instant are ordered by id: stable, if arbitrary."""
    runner = build_runner(ledger)
    first = []
    for _ in range(5):
        clock.advance(seconds=1)
        first.append(ledger.submit(ANALYST, "graph_analysis").job_id)
    runner.catch_up()
    page = ask(ledger, lambda s: s.list_jobs(JobQuery(order="oldest", limit=5)))
    assert [r["job_id"] for r in page.items] == [str(i) for i in first]


def test_filters_narrow_the_list(ledger: Ledger, clock: MovableClock) -> None:
    runner = build_runner(ledger)
    submit_many(ledger, clock, 6)
    job_id, _ = running_job(ledger)
    ledger.submit(Actor("eve", "globex"), "anomaly_detection")
    runner.catch_up()

    def ids(query: JobQuery) -> list[str]:
        return [r["job_id"] for r in ask(ledger, lambda s: s.list_jobs(query)).items]

    assert ids(JobQuery(tenant="acme", status=["running"])) == [str(job_id)]
    assert ids(JobQuery(agent="worker-1")) == [str(job_id)]
    assert len(ids(JobQuery(tenant="acme", created_by="analyst-0"))) == 3
    assert len(ids(JobQuery(tenant="globex", job_type="anomaly_detection"))) == 1
    assert ids(JobQuery(tenant="nobody")) == []


def test_a_cursor_that_was_not_issued_is_refused(ledger: Ledger) -> None:
    build_runner(ledger).catch_up()
    with pytest.raises(InvalidCommand, match="cursor"):
        ask(ledger, lambda s: s.list_jobs(JobQuery(cursor="bm9wZQ")))


def test_bad_filters_name_the_field() -> None:
    with pytest.raises(InvalidCommand, match="limit"):
        parse_query(JobQuery, limit=501)
    with pytest.raises(InvalidCommand, match="status"):
        parse_query(JobQuery, status=["sleeping"])
    with pytest.raises(InvalidCommand, match="group_by"):
        parse_query(CostQuery, group_by="colour")


def test_summary_and_history_say_how_far_the_read_model_got(ledger: Ledger) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger)
    outcome = ledger.complete(WORKER, job_id, lease_id=lease, result={})
    runner.catch_up()
    found = ask(ledger, lambda s: s.summary(job_id, tenant="acme"))
    assert found.value["status"] == "completed"
    assert found.position >= (outcome.position or 0)
    history = ask(ledger, lambda s: s.history(job_id))
    assert [r["to_status"] for r in history.value] == ["queued", "claimed", "running", "completed"]


def test_a_summary_read_waits_out_a_file_held_exclusively_without_stalling_the_loop(
    db_url: str,
) -> None:
    """A read by key runs in the event loop's thread and so must never wait for a lock
    there: while another connection holds the SQLite file, the read takes the waiting
    (aiosqlite) way, the loop keeps serving others, and the read answers once the file is
    free rather than failing."""
    ledger = build_ledger(Settings(db=db_url))
    try:
        job_id = ledger.submit(ANALYST, "graph_analysis").job_id
        build_runner(ledger).catch_up()
        pool = read_pool(ledger, size=1)
    finally:
        ledger.close()  # its connections would keep the holder below from the file
    holder = sqlite3.connect(
        db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # readers of the file now get SQLITE_BUSY
    threading.Timer(0.5, holder.close).start()  # ends the transaction: the file is free
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    async def read_while_ticking(store: ReadStore) -> str:
        ticking = asyncio.ensure_future(tick())
        try:
            found = await store.summary(job_id, tenant="acme")
        finally:
            ticking.cancel()
        return str(found.value["status"])

    assert ask_store(pool, read_while_ticking) == "queued"
    assert ticks >= 10  # the loop ran through the wait (0.5 s: 25 ticks when it is free)


def test_a_summary_read_inside_a_snapshot_sees_that_snapshot(ledger: Ledger) -> None:
    """A read by key may skip the thread hop, but never the snapshot it is read in."""
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger)
    runner.catch_up()

    async def inside_and_after(store: ReadStore) -> tuple[str, str]:
        async with store.snapshot():
            await store.position("job_summaries")  # the snapshot is taken at its first read
            ledger.complete(WORKER, job_id, lease_id=lease, result={})
            runner.catch_up()
            inside = await store.summary(job_id, tenant="acme")
        after = await store.summary(job_id, tenant="acme")
        return inside.value["status"], after.value["status"]

    assert ask(ledger, inside_and_after) == ("running", "completed")


def test_another_tenants_job_is_not_found_in_the_read_models(ledger: Ledger) -> None:
    runner = build_runner(ledger)
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    runner.catch_up()
    with pytest.raises(JobNotFound):
        ask(ledger, lambda s: s.summary(job_id, tenant="globex"))
    with pytest.raises(JobNotFound):
        ask(ledger, lambda s: s.history(job_id, tenant="globex"))


def test_statistics_come_from_precomputed_rows(ledger: Ledger, clock: MovableClock) -> None:
    runner = build_runner(ledger)
    for seconds in (10, 20, 30, 40):
        job_id, lease = running_job(ledger)
        clock.advance(seconds=seconds)
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    job_id, lease = running_job(ledger, max_attempts=1)
    ledger.fail(WORKER, job_id, lease_id=lease, code="x", message="m")
    ledger.submit(ANALYST, "graph_analysis")
    runner.catch_up()
    rows = ask(ledger, lambda s: s.statistics(StatsQuery(tenant="acme"))).value
    assert len(rows) == 1
    row = rows[0]
    assert (row.completed, row.failed, row.queue_depth) == (4, 1, 1)
    assert row.failure_rate == pytest.approx(0.2)
    assert row.run_ms_average == 25_000
    assert row.run_ms_p50 is not None
    assert 18_000 <= row.run_ms_p50 <= 20_000  # within a bucket (6.25%) of the true median
    assert row.run_ms_p95 is not None
    assert 37_000 <= row.run_ms_p95 <= 40_000


def test_cost_totals_are_exact_decimals_grouped_as_asked(ledger: Ledger) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    for _ in range(3):
        ledger.record_usage(
            WORKER, job_id, lease_id=lease, model="gpt-4o-mini", input_tokens=333_333
        )
    ledger.record_usage(WORKER, job_id, lease_id=lease, model="home-grown", input_tokens=5)
    ledger.fail(WORKER, job_id, lease_id=lease, code="x", message="m", retryable=True)
    runner.catch_up()
    by_model = ask(ledger, lambda s: s.costs(CostQuery(group_by="model"))).value
    totals = {t.key: t for t in by_model}
    assert totals["gpt-4o-mini"].cost == Decimal("0.14999985")
    assert isinstance(totals["gpt-4o-mini"].cost, Decimal)
    assert totals["gpt-4o-mini"].unsuccessful_cost == Decimal("0.14999985")
    assert (totals["home-grown"].cost, totals["home-grown"].unpriced_usages) == (0, 1)
    by_day = ask(ledger, lambda s: s.costs(CostQuery(group_by="day", tenant="acme"))).value
    assert [t.key for t in by_day] == ["2026-11-01"]


def test_the_same_instant_filters_alike_in_any_utc_offset(
    ledger: Ledger, clock: MovableClock
) -> None:
    from datetime import UTC, timedelta, timezone

    runner = build_runner(ledger)
    submit_many(ledger, clock, 4)
    runner.catch_up()
    instant = clock.now - timedelta(seconds=2)
    counts = set()
    for zone in (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))):
        query = JobQuery(created_after=instant.astimezone(zone))
        counts.add(len(ask(ledger, lambda s, q=query: s.list_jobs(q)).items))  # type: ignore[misc]
    assert len(counts) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"t": "2026-11-01T09:00:00+00:00", "i": 123, "o": "newest"},
        {"t": "2026-11-01T09:00:00", "i": "00000000-0000-0000-0000-000000000000", "o": "newest"},
        {"t": "yesterday", "i": "00000000-0000-0000-0000-000000000000", "o": "newest"},
        ["not", "an", "object"],
    ],
)
def test_a_tampered_cursor_is_refused(ledger: Ledger, payload: object) -> None:
    import base64
    import json

    build_runner(ledger).catch_up()
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(InvalidCommand, match="cursor"):
        ask(ledger, lambda s: s.list_jobs(JobQuery(cursor=cursor)))
