"""The composition root: the one place that builds a Ledger from settings.

Nothing here runs at import time; callers build what they need, when they need it.
The HTTP API's parts are imported only by the functions that build it, so every
other command starts without loading a web framework.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import get_topic

from jobledger.adapters.price_books import load_price_book
from jobledger.adapters.settings import PostgresStore, Settings, SQLiteStore, Store, parse_db_url
from jobledger.adapters.store.postgres import connections as postgres_store
from jobledger.adapters.store.postgres.connections import (
    PostgresReadModelView,
    PostgresReadStorePool,
    PostgresSubscription,
    conninfo_of,
)
from jobledger.adapters.store.sql.read_store import ReadStorePool, SQLiteReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelView
from jobledger.adapters.store.sqlite.live import (
    SignallingSQLiteApplicationRecorder,
    SQLiteSubscription,
)
from jobledger.adapters.store.sqlite.writer import SQLiteReadModelView
from jobledger.adapters.sweeper import LeaseSweeper, OnlySweeper, SweepLock
from jobledger.domain.errors import ConfigurationError, StoreUnavailable
from jobledger.domain.ledger import Clock, Ledger, utc_now
from jobledger.domain.retries import RetryPolicy
from jobledger.projections.base import BatchProjection
from jobledger.projections.cost_ledger import CostLedgerProjection
from jobledger.projections.job_summaries import JobSummaryProjection
from jobledger.projections.runner import (
    BatchSubscription,
    Listener,
    ProjectionRunner,
    Subscribe,
)
from jobledger.projections.statistics import StatisticsProjection
from jobledger.projections.status_history import StatusHistoryProjection

if TYPE_CHECKING:
    from jobledger.adapters.http.services import Services

log = logging.getLogger("jobledger")
PROJECTIONS = (
    JobSummaryProjection,
    StatusHistoryProjection,
    StatisticsProjection,
    CostLedgerProjection,
)


def persistence_env(store: Store, settings: Settings) -> dict[str, str]:
    if isinstance(store, PostgresStore):
        return postgres_store.persistence_env(store, settings.sqlite_lock_timeout_seconds)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(store.path),
        "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
        "APPLICATION_RECORDER_TOPIC": get_topic(SignallingSQLiteApplicationRecorder),
    }


def _check_sqlite_path(store: SQLiteStore) -> None:
    """Give one clear line for a path that can never hold a database."""
    path = store.path
    parent = path.parent if str(path.parent) else path.cwd()
    if path.is_dir():
        raise StoreUnavailable(f"cannot open database {path}: it is a directory")
    if not parent.exists():
        raise StoreUnavailable(f"cannot create database {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise StoreUnavailable(f"cannot create database {path}: {parent} is not a folder")


def build_ledger(settings: Settings, *, clock: Clock = utc_now, create: bool = True) -> Ledger:
    """The ledger on the configured store; ``create=False`` refuses to start a new one
    (so a mistyped path in a read command is an error, not an empty ledger)."""
    store = parse_db_url(settings.db, settings.pg_schema)
    if isinstance(store, PostgresStore):
        if not create and not postgres_store.has_ledger(store):
            raise StoreUnavailable(f"no ledger in {store}: nothing has been recorded there")
        postgres_store.ensure_schema(store)
    else:
        _check_sqlite_path(store)
        if not create and not store.path.exists():
            raise StoreUnavailable(f"no ledger at {store.path}: nothing has been recorded there")
    price_book = load_price_book(settings.price_book)
    creating = (
        postgres_store.creating_tables(store.conninfo(), store.schema)
        if isinstance(store, PostgresStore)
        else contextlib.nullcontext()
    )
    try:
        with creating:
            return Ledger(
                persistence_env(store, settings),
                price_book=price_book,
                clock=clock,
                retry=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
            )
    except (PersistenceError, sqlite3.Error, psycopg.Error, OSError) as error:
        raise StoreUnavailable(f"cannot open {store}: {postgres_store.one_line(error)}") from None


def read_pool(ledger: Ledger, size: int = 4) -> ReadStorePool:
    """Async read stores over the ledger's read models, on its own store."""
    factory = ledger.factory
    if isinstance(factory, PostgresFactory):
        datastore = factory.datastore
        return PostgresReadStorePool(conninfo_of(datastore), datastore.schema, size)
    if isinstance(factory, SQLiteFactory):
        return SQLiteReadStorePool(Path(factory.datastore.pool.db_name), size)
    raise ConfigurationError(f"no read store for {type(factory).__name__}")


def build_runner(ledger: Ledger) -> ProjectionRunner:
    """The four read models, in the ledger's own database, and their runner."""
    factory = ledger.factory
    view: SqlReadModelView
    if isinstance(factory, PostgresFactory):
        view = PostgresReadModelView(factory.datastore)
    elif isinstance(factory, SQLiteFactory):
        view = SQLiteReadModelView(factory.datastore)
    else:
        raise ConfigurationError(f"no read models for {type(factory).__name__}")
    creating = (
        postgres_store.creating_tables(conninfo_of(factory.datastore), factory.datastore.schema)
        if isinstance(factory, PostgresFactory)
        else contextlib.nullcontext()
    )
    projections = [cls(view) for cls in PROJECTIONS]
    try:
        with creating:
            _drop_outdated(view, projections)
            view.create_table()
    except (PersistenceError, sqlite3.Error, psycopg.Error) as error:
        raise StoreUnavailable(f"cannot create the read models' tables: {error}") from None
    return ProjectionRunner(ledger.recorder, ledger.mapper, projections, owner=ledger)


def _drop_outdated(view: SqlReadModelView, projections: Sequence[BatchProjection]) -> None:
    """A read model whose stored columns are not the contract's (a table from an older
    release) is dropped with its position and made anew: the runner rebuilds it from
    the events, which are the truth."""
    for projection in projections:
        tables = projection.tables
        stored = [view.stored_columns(t) for t in tables]
        if all(s is None or s == list(t.column_names) for s, t in zip(stored, tables, strict=True)):
            continue
        log.warning("rebuilding the %s read model: its tables changed", projection.name)
        view.drop(tables, projection.tracking_name)


def build_sweeper(ledger: Ledger, runner: ProjectionRunner, settings: Settings) -> LeaseSweeper:
    """The lease sweeper over the runner's job summaries; on PostgreSQL only the holder of
    the schema's advisory lock sweeps."""
    view = runner.projection("job_summaries").view
    assert isinstance(view, SqlReadModelView)
    factory = ledger.factory
    lock: SweepLock = OnlySweeper()
    if isinstance(factory, PostgresFactory):
        schema = factory.datastore.schema
        lock = postgres_store.AdvisoryLock(
            conninfo_of(factory.datastore), f"jobledger-sweeper:{schema}"
        )
    return LeaseSweeper(ledger, view, lock, interval=settings.sweep_seconds)


def subscribe(ledger: Ledger) -> Subscribe:
    """Live notifications from the ledger's store, for ``ProjectionRunner.follow``."""

    def start(after: int) -> BatchSubscription:
        recorder = ledger.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            assert isinstance(ledger.factory, PostgresFactory)
            return PostgresSubscription(recorder, conninfo_of(ledger.factory.datastore), after)
        assert isinstance(recorder, SignallingSQLiteApplicationRecorder)
        return SQLiteSubscription(recorder, gt=after)

    return start


def announcer(ledger: Ledger) -> Listener | None:
    """How a projection runner tells API processes elsewhere that it moved (PostgreSQL
    NOTIFY); on SQLite every API process runs its own runner, so nothing is needed."""
    factory = ledger.factory
    if isinstance(factory, PostgresFactory):
        return postgres_store.ProjectedNotifier(
            conninfo_of(factory.datastore), factory.datastore.schema
        )
    return None


def build_services(
    settings: Settings, *, clock: Clock = utc_now, projections: bool = True
) -> Services:
    """Everything the HTTP API needs; ``projections=False`` leaves the read models to
    another process. The app opens the read stores and starts the runner itself."""
    from jobledger.adapters.auth.tokens import build_verifier
    from jobledger.adapters.http.changes import ChangeSource, Listening, Projecting
    from jobledger.adapters.http.feed import ChangeFeed
    from jobledger.adapters.http.metrics import Metrics
    from jobledger.adapters.http.services import Services

    ledger = build_ledger(settings, clock=clock)
    runner = build_runner(ledger)  # creates the read models' tables before anyone reads them
    factory = ledger.factory
    changes: ChangeSource | None = None
    if projections:
        changes = Projecting(runner, subscribe(ledger), announcer(ledger))
    elif isinstance(factory, PostgresFactory):
        conninfo, schema = conninfo_of(factory.datastore), factory.datastore.schema

        def reached() -> int:
            return min(runner.positions().values(), default=0)

        changes = Listening(postgres_store.listen_projected(conninfo, schema, reached), reached)
    return Services(
        settings=settings,
        ledger=ledger,
        reads=read_pool(ledger),
        verifier=build_verifier(settings),
        feed=ChangeFeed(),
        metrics=Metrics(),
        changes=changes,
        sweeper=build_sweeper(ledger, runner, settings) if projections else None,
    )
