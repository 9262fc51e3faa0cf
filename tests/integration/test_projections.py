"""Read models on a real SQLite file: scenarios, exactly-once, failures and live following."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from jobledger.adapters.bootstrap import build_runner, subscribe
from jobledger.adapters.settings import Settings
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor
from jobledger.projections.runner import ProjectionRunner
from jobledger.projections.schema import ALL_TABLES, COST_ENTRIES, JOB_SUMMARIES
from jobledger.projections.statistics import StatisticsProjection
from tests.conftest import ANALYST, WORKER, MovableClock, running_job, select


def tables(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t.name: sorted(tuple(row.values()) for row in select(ledger, f"SELECT * FROM {t.name}"))
        for t in ALL_TABLES
    }


def completed_in_total(ledger: Ledger) -> int:
    found = select(ledger, "SELECT SUM(completed) AS n FROM job_daily_statistics")
    return int(found[0]["n"])


def summary(runner: ProjectionRunner, job_id: Any) -> dict[str, Any]:
    view = runner.projections["job_summaries"].view
    return view.fetch(JOB_SUMMARIES, [(str(job_id),)])[(str(job_id),)]


def test_a_retry_starts_the_summary_over_but_keeps_what_was_spent(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=40, findings={"entities": 4})
    ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=400_000)
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    runner.catch_up()
    row = summary(runner, job_id)
    assert (row["status"], row["attempt"], row["progress"], row["agent"]) == ("queued", 2, 0, None)
    assert row["cost"] == Decimal("1.00")
    assert (row["error_code"], row["estimated_completion_at"]) == ("rate_limited", None)


FINDINGS = ("entities", "relationships", "anomalies", "predictions")


def test_a_retry_forgets_the_failed_attempts_preliminary_findings(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    found = {"entities": 4, "relationships": 2, "anomalies": 1, "predictions": 3}
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=40, findings=found)
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    runner.catch_up()
    row = summary(runner, job_id)
    assert {kind: row[kind] for kind in FINDINGS} == dict.fromkeys(FINDINGS, 0)
    assert ledger.get(job_id).preliminary_findings == {}


def test_a_lapsed_lease_requeues_without_the_lapsed_attempts_findings(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=10, findings={"entities": 9})
    clock.advance(hours=1)
    ledger.expire_lease(Actor("sweeper", "acme"), job_id)
    runner.catch_up()
    row = summary(runner, job_id)
    assert (row["status"], row["attempt"], row["entities"]) == ("queued", 2, 0)


def test_a_running_job_has_an_estimate_from_its_progress_rate(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger)
    started = clock.now
    clock.advance(minutes=10)
    ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=100_000)
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=25)
    runner.catch_up()
    row = summary(runner, job_id)
    assert row["estimated_completion_at"] == started + (clock.now - started) * 4
    assert row["projected_cost"] == Decimal("1.00")  # 0.25 so far, at 25%


def test_spend_on_an_attempt_that_failed_is_shown_as_such(
    ledger: Ledger, clock: MovableClock
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=1_000_000)
    ledger.fail(WORKER, job_id, lease_id=lease, code="boom", message="m", retryable=True)
    clock.advance(seconds=300)  # past the back-off
    second = ledger.claim(WORKER, job_id, agent="w2").lease_id or ""
    ledger.start(WORKER, job_id, lease_id=second)
    ledger.record_usage(WORKER, job_id, lease_id=second, model="gpt-4o", input_tokens=2_000_000)
    ledger.complete(WORKER, job_id, lease_id=second, result={})
    runner.catch_up()
    attempts = select(ledger, "SELECT attempt, outcome, cost FROM cost_attempts ORDER BY attempt")
    assert [tuple(a.values()) for a in attempts] == [
        (1, "failed", "2.50"),
        (2, "succeeded", "5.00"),
    ]


def test_statistics_count_what_happened_per_day(ledger: Ledger, clock: MovableClock) -> None:
    runner = build_runner(ledger)
    for _ in range(3):
        job_id, lease = running_job(ledger)
        clock.advance(seconds=30)
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    clock.advance(days=1)
    queued = ledger.submit(ANALYST, "graph_analysis").job_id
    ledger.cancel(ANALYST, queued)
    runner.catch_up()
    daily = [
        tuple(row.values())
        for row in select(
            ledger,
            "SELECT day, submitted, completed, cancelled, run_ms_total FROM job_daily_statistics"
            " ORDER BY day",
        )
    ]
    counts = {
        row["status"]: row["jobs"]
        for row in select(ledger, "SELECT status, jobs FROM job_status_counts WHERE jobs > 0")
    }
    assert daily == [("2026-11-01", 3, 3, 0, 90_000), ("2026-11-02", 1, 0, 1, 0)]
    assert counts == {"completed": 3, "cancelled": 1}


def test_processing_the_same_batch_twice_changes_nothing(ledger: Ledger) -> None:
    runner = build_runner(ledger)
    running_job(ledger)
    runner.catch_up()
    before = tables(ledger)
    notifications = ledger.recorder.select_notifications(start=None, limit=100)
    projection = runner.projections["statistics"]
    events = runner_events(runner, notifications)
    with pytest.raises(IntegrityError):
        projection.process_batch(events, Tracking("statistics", notifications[-1].id))
    fresh = build_runner(ledger)  # a second runner, starting from the stored positions
    fresh.catch_up()
    assert tables(ledger) == before


def runner_events(runner: ProjectionRunner, notifications: Any) -> list[Any]:
    from jobledger.projections.base import Positioned
    from jobledger.projections.runner import JOB_EVENT_TOPICS

    return [
        Positioned(runner.mapper.to_domain_event(n), n.id)  # type: ignore[arg-type]
        for n in notifications
        if n.topic in JOB_EVENT_TOPICS
    ]


def test_a_write_that_fails_mid_transaction_leaves_rows_and_position_as_they_were(
    ledger: Ledger,
) -> None:
    runner = build_runner(ledger)
    running_job(ledger)
    runner.catch_up()
    before, position = tables(ledger), runner.positions()["cost_ledger"]
    view = runner.projections["cost_ledger"].view
    good = dict(summary(runner, ledger.job_events(_first_job(ledger))[0].originator_id))
    good["status"] = "completed"
    bad = {c.name: None for c in COST_ENTRIES.columns}  # NOT NULL columns: refused
    with pytest.raises(IntegrityError, match=r"(?i)not.null"):
        view.commit(
            {JOB_SUMMARIES: [good], COST_ENTRIES: [bad]}, Tracking("cost_ledger", position + 1)
        )
    assert tables(ledger) == before
    assert runner.positions()["cost_ledger"] == position


def _first_job(ledger: Ledger) -> Any:
    return ledger.recorder.select_notifications(start=None, limit=1)[0].originator_id


class FailingOnce(StatisticsProjection):
    """Raises on the first job completion it sees, as a crash mid-batch would."""

    name = "statistics"
    failed = False

    def apply(self, positioned: Any, batch: Any) -> None:
        from jobledger.domain.events import JobCompleted

        if isinstance(positioned.event, JobCompleted) and not FailingOnce.failed:
            FailingOnce.failed = True
            raise RuntimeError("injected failure")
        super().apply(positioned, batch)


def test_after_a_failure_mid_batch_the_runner_resumes_and_counts_each_event_once(
    ledger: Ledger,
) -> None:
    for _ in range(4):
        job_id, lease = running_job(ledger)
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    runner = build_runner(ledger)
    good = runner.projections["statistics"]
    FailingOnce.failed = False
    runner.projections["statistics"] = FailingOnce(good.view)
    runner.batch_size = 3
    with pytest.raises(RuntimeError, match="injected"):
        runner.catch_up()
    stuck_at = runner.positions()["statistics"]
    assert stuck_at < ledger.recorder.max_notification_id()
    runner.catch_up()  # the injected failure happens once: this resumes
    incremental = tables(ledger)
    runner.rebuild("statistics")
    assert tables(ledger) == incremental
    assert completed_in_total(ledger) == 4


def test_the_runner_follows_writes_in_this_process_at_once(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    runner = build_runner(ledger)
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(subscribe(ledger), stop, 5.0))
    follower.start()
    try:
        time.sleep(0.2)
        started = time.perf_counter()
        outcome = ledger.submit(ANALYST, "graph_analysis")
        assert outcome.position is not None
        assert runner.wait_for(outcome.position, timeout=5)
        assert time.perf_counter() - started < 1.0  # woken by the commit, not the 5 s poll
        assert summary(runner, outcome.job_id)["status"] == "queued"
    finally:
        stop.set()
        follower.join(timeout=10)


def test_the_runner_notices_writers_in_other_processes(
    open_ledger: Callable[..., Ledger], store: Settings
) -> None:
    """By polling on SQLite; by NOTIFY on PostgreSQL."""
    import subprocess
    import sys

    ledger = open_ledger()
    runner = build_runner(ledger)
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(subscribe(ledger), stop, 0.2))
    follower.start()
    try:
        script = (
            "from jobledger.adapters.bootstrap import build_ledger\n"
            "from jobledger.adapters.settings import Settings\n"
            "from jobledger.domain.values import Actor\n"
            f"settings = Settings.model_validate_json({store.model_dump_json()!r})\n"
            "o = build_ledger(settings).submit(Actor('a', 't'), 'graph_analysis')\n"
            "print(o.position)\n"
        )
        position = int(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout
        )
        assert runner.wait_for(position, timeout=10)
    finally:
        stop.set()
        follower.join(timeout=10)


def test_a_second_tenant_and_actor_do_not_mix(ledger: Ledger) -> None:
    runner = build_runner(ledger)
    ledger.submit(Actor("eve", "globex"), "graph_analysis")
    ledger.submit(ANALYST, "graph_analysis")
    runner.catch_up()
    rows = {
        row["tenant"]: row["created_by"]
        for row in select(ledger, "SELECT tenant, created_by FROM job_summaries")
    }
    assert rows == {"globex": "eve", "acme": "alice@acme"}


def test_money_in_the_read_models_is_exact(ledger: Ledger, tmp_path: Path) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger)
    for _ in range(7):
        ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o-mini", input_tokens=1)
    runner.catch_up()
    assert summary(runner, job_id)["cost"] == Decimal("0.00000105")  # 7 x 0.15 per million


def notifications_after(ledger: Ledger, position: int) -> Any:
    return ledger.recorder.select_notifications(
        start=position, limit=10_000, inclusive_of_start=False
    )


def busy_ledger(ledger: Ledger) -> int:
    for _ in range(12):
        job_id, lease = running_job(ledger)
        ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=1000)
        ledger.complete(WORKER, job_id, lease_id=lease, result={})
    return ledger.recorder.max_notification_id() or 0


def test_two_runners_that_overlap_never_count_an_event_twice(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    end = busy_ledger(ledger)
    first, second = build_runner(ledger), build_runner(open_ledger())
    first.catch_up(until=end // 4)
    second.catch_up(until=end // 2)  # moves every position past what `first` remembers
    first.process(notifications_after(ledger, end // 4))  # folded from a stale start
    first.catch_up()
    settled = tables(ledger)
    for name in first.projections:
        first.rebuild(name)
    assert tables(ledger) == settled


def test_a_rebuild_beside_a_runner_with_old_positions_loses_nothing(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    end = busy_ledger(ledger)
    follower, rebuilder = build_runner(ledger), build_runner(open_ledger())
    follower.catch_up(until=end // 2)
    statistics = rebuilder.projection("statistics")
    statistics.view.reset(statistics.tables, statistics.tracking_name)
    rebuilder.catch_up(until=end // 4)  # statistics half rebuilt, others untouched
    follower.process(notifications_after(ledger, end // 2))  # its statistics position is stale
    follower.catch_up()
    settled = tables(ledger)
    follower.rebuild("statistics")
    assert tables(ledger) == settled
    assert completed_in_total(ledger) == 12


def test_a_read_model_from_an_older_release_is_dropped_and_rebuilt(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    running_job(ledger)
    ledger.submit(ANALYST, "graph_analysis")
    runner = build_runner(ledger)
    runner.catch_up()
    current = tables(ledger)
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=True) as cursor:  # as an older release left it
        prefix = f'"{schema}".' if schema else ""
        cursor.execute(f"DROP INDEX {prefix}job_summaries_by_lease_expires_at")
        cursor.execute(f"ALTER TABLE {prefix}job_summaries DROP COLUMN lease_expires_at")
    reopened = build_runner(ledger)
    assert reopened.positions()["job_summaries"] == 0  # dropped: to be rebuilt
    assert reopened.positions()["statistics"] == runner.positions()["statistics"]  # untouched
    reopened.catch_up()
    assert tables(ledger) == current


def execute(ledger: Ledger, *statements: str) -> None:
    """Change the read models' tables directly, as an older release would have left them."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=True) as cursor:
        if schema is not None:
            cursor.execute(f'SET LOCAL search_path TO "{schema}"')
        for statement in statements:
            cursor.execute(statement)


def test_rows_built_by_an_older_version_of_a_read_models_rules_are_rebuilt(
    ledger: Ledger,
) -> None:
    runner = build_runner(ledger)
    job_id, lease = running_job(ledger, max_attempts=2)
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=40, findings={"entities": 4})
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    runner.catch_up()
    current = tables(ledger)
    execute(  # the rows version 1 left: the failed attempt's findings kept, no versions
        ledger,
        f"UPDATE job_summaries SET entities = 4 WHERE job_id = '{job_id}'",
        "DROP TABLE read_model_versions",
    )
    reopened = build_runner(ledger)
    assert reopened.positions()["job_summaries"] == 0  # dropped: to be rebuilt
    assert reopened.positions()["statistics"] == runner.positions()["statistics"]  # untouched
    reopened.catch_up()
    assert tables(ledger) == current
    assert summary(reopened, job_id)["entities"] == 0


def test_rows_of_a_newer_version_are_left_to_the_process_that_wrote_them(
    ledger: Ledger,
) -> None:
    runner = build_runner(ledger)
    running_job(ledger)
    runner.catch_up()
    execute(ledger, "UPDATE read_model_versions SET version = 99 WHERE name = 'job_summaries'")
    reopened = build_runner(ledger)
    assert reopened.positions() == runner.positions()
    versions = select(ledger, "SELECT name, version FROM read_model_versions")
    assert {r["name"]: r["version"] for r in versions}["job_summaries"] == 99
