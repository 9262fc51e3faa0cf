"""Shared fixtures: real ledgers on real SQLite files, a clock tests can move."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor

ANALYST = Actor("alice@acme", "acme")
WORKER = Actor("worker-1", "acme")
OTHER_TENANT = Actor("eve@globex", "globex")


class MovableClock:
    """Ledger time that only moves when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def running_job(ledger: Ledger, max_attempts: int = 3, **submit: object) -> tuple[UUID, str]:
    """A job claimed by WORKER and started: its id and the lease to work under."""
    job_id = ledger.submit(ANALYST, "graph_analysis", max_attempts=max_attempts, **submit).job_id  # type: ignore[arg-type]
    lease = ledger.claim(WORKER, job_id, agent="worker-1").lease_id
    assert lease is not None
    ledger.start(WORKER, job_id, lease_id=lease)
    return job_id, lease


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def open_ledger(db_url: str) -> Iterator[Callable[..., Ledger]]:
    """Open ledgers on the test's SQLite file; each is closed at the end."""
    opened: list[Ledger] = []

    def open_(**kwargs: object) -> Ledger:
        ledger = build_ledger(Settings(db=db_url), **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[..., Ledger], clock: MovableClock) -> Ledger:
    return open_ledger(clock=clock)
