"""Reaching the PostgreSQL server: the schema a ledger lives in, the settings
eventsourcing connects with, and one-line errors for the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from eventsourcing.postgres import (
    PostgresDatastore,
)
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.conninfo import make_conninfo

from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.adapters.store.postgres.recorder import GroupCommittingPostgresRecorder
from jobledger.domain.errors import StoreUnavailable


def one_line(error: BaseException) -> str:
    """psycopg's messages run over several lines; the CLI prints one."""
    return " ".join(str(error).split())


def ensure_schema(store: PostgresStore) -> None:
    """Create the ledger's schema if it is not there yet (tables follow on first use)."""
    try:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", [store.schema]
            ).fetchone()
            if found is None:  # asked first: a role that may not create schemas may use one
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.schema))
                )
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot use {store}: {one_line(error)}") from None


@contextlib.contextmanager
def creating_tables(conninfo: str, schema: str) -> Iterator[None]:
    """One process at a time creates a schema's tables: PostgreSQL's CREATE TABLE IF
    NOT EXISTS races with itself (a duplicate pg_type row) when processes start together."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot connect: {one_line(error)}") from None
    with conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"jobledger-tables:{schema}"])
        yield


def has_ledger(store: PostgresStore) -> bool:
    """Whether the schema holds a ledger's events table."""
    try:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = 'ledger_events'",
                [store.schema],
            ).fetchone()
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot use {store}: {one_line(error)}") from None
    return found is not None


def conninfo_of(datastore: PostgresDatastore) -> str:
    """How the ledger's own pool connects, for the connections beside it."""
    found = datastore.pool.conninfo
    base = found if isinstance(found, str) else found()
    kwargs = datastore.pool.kwargs
    given: dict[str, Any] = (kwargs() if callable(kwargs) else kwargs) or {}
    wanted = ("dbname", "host", "port", "user", "password", "connect_timeout")
    return make_conninfo(base, **{k: given[k] for k in wanted if given.get(k) is not None})


def persistence_env(store: PostgresStore, lock_timeout_seconds: int) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": store.dbname,
        "POSTGRES_HOST": store.host,
        "POSTGRES_PORT": str(store.port),
        "POSTGRES_USER": store.user,
        "POSTGRES_PASSWORD": store.password,
        "POSTGRES_SCHEMA": store.schema,
        "POSTGRES_LOCK_TIMEOUT": str(lock_timeout_seconds),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "8",
        # Off: psycopg's pool backs off 1, 2, 4 s... between connections that fail the
        # pre-ping, so after a restart a process waited that long for each dead one; the
        # recorder's own retries discard a dead connection and take the next at once.
        "POSTGRES_PRE_PING": "n",
        "SINGLE_ROW_TRACKING": "y",
        "APPLICATION_RECORDER_TOPIC": get_topic(GroupCommittingPostgresRecorder),
    }
