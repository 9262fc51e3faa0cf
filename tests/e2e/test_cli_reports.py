"""stats, costs and projections, as a user runs them after the demo."""

from __future__ import annotations

import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.values import Actor
from tests.conftest import select
from tests.e2e.test_cli import jobledger


def demo(db_url: str) -> None:
    done = jobledger(
        "demo", "--jobs", "8", "--workers", "2", "--seed", "4", "--speed", "20", db=db_url
    )
    assert done.returncode == 0, done.stderr


def test_reports_after_the_demo(db_url: str) -> None:
    """One demo run (a subprocess serving and working jobs) feeds every report check."""
    demo(db_url)
    stats_right_after_the_demo_are_current(db_url)
    costs_by_each_grouping(db_url)
    rebuild_gives_the_same_tables(db_url)


def stats_right_after_the_demo_are_current(db_url: str) -> None:
    done = jobledger("stats", db=db_url)
    assert done.returncode == 0, done.stderr
    for expected in ("acme-bank", "globex-insurance", "graph_analysis", "USD", "tokens and cost"):
        assert expected in done.stdout
    status = jobledger("projections", "status", db=db_url)
    assert status.returncode == 0
    names = ("job_summaries", "status_history", "statistics", "cost_ledger")
    lags = [
        line.split()[-1]
        for line in status.stdout.splitlines()
        if line.split()[:1] in ([n] for n in names)
    ]
    assert len(lags) == 4
    assert set(lags) == {"0"}


def lags(db_url: str) -> dict[str, int]:
    status = jobledger("projections", "status", db=db_url)
    assert status.returncode == 0, status.stderr
    names = ("job_summaries", "status_history", "statistics", "cost_ledger")
    rows = [line.split() for line in status.stdout.splitlines()]
    return {
        row[0]: int(row[-1].replace(",", "")) for row in rows if row[:1] in ([n] for n in names)
    }


def test_projections_status_shows_the_lag_as_it_is_without_catching_up(db_url: str) -> None:
    ledger = build_ledger(Settings.load(db=db_url))
    try:
        for _ in range(3):
            ledger.submit(Actor("alice@acme", "acme"), "graph_analysis")
    finally:
        ledger.close()
    behind = dict.fromkeys(("job_summaries", "status_history", "statistics", "cost_ledger"), 3)
    assert lags(db_url) == behind  # nothing projects these: status says so
    assert lags(db_url) == behind  # and asking did not catch them up
    assert jobledger("stats", db=db_url).returncode == 0  # a report catches up first
    assert set(lags(db_url).values()) == {0}


def costs_by_each_grouping(db_url: str) -> None:
    for by, expected in (
        ("tenant", "acme-bank"),
        ("model", "gpt-4o"),
        ("investigation", "INV-"),
        ("day", "20"),
    ):
        done = jobledger("costs", "--by", by, db=db_url)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout
        assert "failed attempts" in done.stdout


def rebuild_gives_the_same_tables(db_url: str) -> None:

    def snapshot() -> list[object]:
        ledger = build_ledger(Settings.load(db=db_url), create=False)
        try:
            return [
                sorted(tuple(row.values()) for row in select(ledger, f"SELECT * FROM {t}"))
                for t in (
                    "job_summaries",
                    "status_history",
                    "job_daily_statistics",
                    "cost_entries",
                    "cost_attempts",
                )
            ]
        finally:
            ledger.close()

    before = snapshot()
    done = jobledger("projections", "rebuild", db=db_url)
    assert done.returncode == 0, done.stderr
    assert "rebuilt job_summaries, status_history, statistics, cost_ledger" in done.stdout
    assert snapshot() == before


@pytest.mark.rules  # option checks, before the store is read
def test_bad_report_options_are_one_line(db_url: str) -> None:
    build_ledger(Settings.load(db=db_url)).close()  # a ledger to report on
    for args, message in (
        (["stats", "--since", "2026-13-01"], "since"),
        (["projections", "rebuild", "nope"], "unknown projection 'nope'"),
    ):
        done = jobledger(*args, db=db_url)
        assert done.returncode == 2
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    bad = jobledger("costs", "--by", "colour", db=db_url)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
