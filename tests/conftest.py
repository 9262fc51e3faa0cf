"""Shared fixtures: real ledgers on both stores, a clock tests can move.

The suite keeps its state out of the user's home and out of the repository: each
run gets a state folder of its own (``XDG_STATE_HOME``, inherited by the commands
the tests start), and the run fails if it leaves any new file in the repository.

``store`` runs a test twice: on a fresh SQLite file, and in a fresh schema of the
PostgreSQL server at ``JOBLEDGER_TEST_POSTGRES`` (default: the local one). Where
no server answers, the PostgreSQL run is skipped with the reason, unless
``JOBLEDGER_REQUIRE_POSTGRES=1`` (as in CI), which makes it fail instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor

REPOSITORY = Path(__file__).resolve().parents[1]
# What tools may leave in the repository (all ignored by git): caches, the virtualenv.
TOOL_LEFTOVERS = (
    ".venv/", ".hypothesis/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".coverage",
    "__pycache__/", "build/", ".egg-info/",
)  # fmt: skip


def files_in_repository() -> set[str] | None:
    """Every file git sees below the repository, tracked, untracked or ignored, less the
    tools' leftovers; None outside a git checkout (an unpacked sdist)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "-z"],
            cwd=REPOSITORY, capture_output=True, check=True,
        ).stdout  # fmt: skip
        ignored = subprocess.run(
            ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "-z"],
            cwd=REPOSITORY, capture_output=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    names = {n for n in (listed + ignored).decode().split("\0") if n}
    return {n for n in names if not any(part in n for part in TOOL_LEFTOVERS)}


def pytest_configure(config: pytest.Config) -> None:
    """The controller (under xdist, or alone) makes the run's state folder; the workers it
    starts inherit it with the rest of its environment."""
    if hasattr(config, "workerinput"):
        return
    state = tempfile.mkdtemp(prefix="jobledger-test-state-")
    os.environ["XDG_STATE_HOME"] = state
    os.environ.pop("JOBLEDGER_STATE_DIR", None)
    config.stash[_STATE] = state
    config.stash[_BEFORE] = files_in_repository()


_BEFORE = pytest.StashKey[set[str] | None]()
_STATE = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        shutil.rmtree(state, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``rules`` run on the fast store only: their subject is a rule of the
    ledger or the API, which the stores' contract tests already show both stores keep."""
    slow_store = [
        item
        for item in items
        if item.get_closest_marker("rules") is not None
        and "postgres" in getattr(getattr(item, "callspec", None), "params", {}).values()
    ]
    if slow_store:
        config.hook.pytest_deselected(items=slow_store)
        dropped = set(slow_store)
        items[:] = [item for item in items if item not in dropped]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the tests left a file in the repository (a key, a database)."""
    before = session.config.stash.get(_BEFORE, None)
    after = files_in_repository()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"FAILED: the tests left files in the repository: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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


PG_URL = os.environ.get("JOBLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        with psycopg.connect(PostgresStore.parse(PG_URL).conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {PG_URL}: {str(error).strip()}"


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("JOBLEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem} (JOBLEDGER_REQUIRE_POSTGRES=1: PostgreSQL tests must run)")
    pytest.skip(problem)


@contextlib.contextmanager
def postgres_schema() -> Iterator[Settings]:
    """Settings for a fresh schema of its own, dropped afterwards."""
    require_postgres()
    schema = f"test_{uuid4().hex[:12]}"
    try:
        yield Settings(db=PG_URL, pg_schema=schema)
    finally:
        conninfo = PostgresStore.parse(PG_URL).conninfo()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


STORES = ("sqlite", "postgres")


@contextlib.contextmanager
def fresh_store(kind: str) -> Iterator[Settings]:
    """Settings for a new, empty ledger of this kind, removed afterwards (for property
    tests, which need one per example)."""
    if kind == "postgres":
        with postgres_schema() as settings:
            yield settings
        return
    folder = Path(tempfile.mkdtemp())
    try:
        yield Settings(db=f"sqlite:///{folder / 'ledger.db'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for a fresh, empty ledger on each store in turn."""
    with fresh_store(request.param) as settings:
        yield settings


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite file, for tests of what only the embedded store does."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def open_ledger(store: Settings) -> Iterator[Callable[..., Ledger]]:
    """Open ledgers on the test's store; each is closed at the end."""
    opened: list[Ledger] = []

    def open_(**kwargs: object) -> Ledger:
        ledger = build_ledger(store, **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[..., Ledger], clock: MovableClock) -> Ledger:
    return open_ledger(clock=clock)


def select(ledger: Ledger, statement: str) -> list[dict[str, Any]]:
    """Rows of a read-only SQL statement over the ledger's own store (tables unqualified)."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=False) as cursor:
        if schema is not None:
            cursor.execute(f'SET LOCAL search_path TO "{schema}"')
        cursor.execute(statement)
        return [dict(row) for row in cursor.fetchall()]
