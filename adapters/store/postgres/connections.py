"""PostgreSQL as the store: the ledger's events, the read models, their positions and
the command receipts, all in one schema of one database.

eventsourcing's PostgreSQL recorder takes a table lock for each append, so log
positions are committed in order and a follower never skips an event committed
late. Followers wake on the recorder's NOTIFY, not by polling.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import Notification, OperationalError, Tracking
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.adapters.store.sql.read_store import ReadStore, ReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelWriter, postgres
from jobledger.domain.errors import StoreUnavailable
from jobledger.projections.base import Positioned
from jobledger.projections.outage import Outage
from jobledger.projections.schema import ALL_TABLES, Table

log = logging.getLogger("jobledger.postgres")
TRACKING_TABLE = "tracking"  # as on SQLite, so the read store's SQL is the same


def one_line(error: BaseException) -> str:
    """psycopg's messages run over several lines; the CLI prints one."""
    return " ".join(str(error).split())


def ensure_schema(store: PostgresStore) -> None:
    """Create the ledger's schema if it is not there yet (tables follow on first use)."""
    try:
        with psycopg.connect(store.conninfo(), autocommit=True) as conn:
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
    }


class PostgresReadModelWriter(PostgresTrackingRecorder, SqlReadModelWriter):
    def __init__(self, datastore: PostgresDatastore, tables: Sequence[Table] = ALL_TABLES) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        self.dialect = postgres(datastore.schema)
        self.sql_create_statements.extend(sql.Composed([sql.SQL(s)]) for s in self._prepare(tables))

    @contextlib.contextmanager
    def _transaction(self, commit: bool) -> Iterator[psycopg.Cursor[DictRow]]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    def _insert_position(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)


class PostgresSubscription:
    """Notifications past ``gt``, in batches; waits on the recorder's NOTIFY channel.
    A lost connection raises ``OperationalError``: the runner subscribes again."""

    def __init__(self, recorder: PostgresApplicationRecorder, conninfo: str, gt: int) -> None:
        self._recorder = recorder
        self._last = gt
        self._conn = listening(conninfo, sql.Identifier(recorder.channel_name))

    def next_batch(self, limit: int, timeout: float) -> Sequence[Notification]:
        deadline = time.monotonic() + timeout
        while True:
            batch = self._recorder.select_notifications(
                start=self._last, limit=limit, inclusive_of_start=False
            )
            if batch:
                self._last = batch[-1].id
                found: Sequence[Notification] = batch
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            # A NOTIFY sent since LISTEN is queued on the connection: none is missed.
            try:
                for _ in self._conn.notifies(timeout=left, stop_after=1):
                    pass
            except psycopg.Error as error:
                raise OperationalError(f"lost the LISTEN connection: {one_line(error)}") from None

    def stop(self) -> None:
        self._conn.close()


class PostgresReadStore(ReadStore):
    """The read models on one pooled async connection (search path: the schema)."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        self.conn = conn

    async def _rows(self, statement: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        cursor = await self.conn.execute(statement.replace("?", "%s"), list(params))
        return list(await cursor.fetchall())

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        async with self.conn.transaction(force_rollback=True):
            yield


class PostgresReadStorePool(ReadStorePool):
    """psycopg's async pool; each connection reads the ledger's schema."""

    def __init__(self, conninfo: str, schema: str, size: int = 4) -> None:
        self.schema = schema

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)

        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=configure,
            # A connection the server dropped (a restart) is replaced, not handed out.
            check=AsyncConnectionPool.check_connection,
        )

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=10)
        except psycopg.Error as error:
            raise StoreUnavailable(f"cannot open the read store: {one_line(error)}") from None

    async def close(self) -> None:
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[ReadStore]:
        async with self._pool.connection() as conn:
            yield PostgresReadStore(conn)


# -- telling API processes that the read models moved ----------------------------------


def projected_channel(schema: str) -> str:
    return f"jobledger_{schema}_projected"[:63]


class ProjectedNotifier:
    """A runner listener: after each batch, NOTIFY the API processes which jobs changed
    and how far the read models reached (all jobs, when the list would not fit)."""

    MAX_PAYLOAD = 7_000  # PostgreSQL refuses payloads of 8,000 bytes or more

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.channel = projected_channel(schema)
        self._conn: psycopg.Connection[Any] | None = None

    def __call__(self, events: Sequence[Positioned], position: int) -> None:
        payload = json.dumps({"p": position, "j": sorted({p.job_id for p in events})})
        if len(payload) > self.MAX_PAYLOAD:
            payload = json.dumps({"p": position, "j": None})
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
            self._conn.execute("SELECT pg_notify(%s, %s)", [self.channel, payload])
        except psycopg.Error as error:  # waiters time out as usual; the next batch retries
            log.warning("could not announce position %s: %s", position, one_line(error))
            self._conn = None


def listen_projected(
    conninfo: str, schema: str, position: Callable[[], int]
) -> Callable[[Callable[[set[str] | None, int], None], threading.Event], None]:
    """What a ``Listening`` change source runs: relays each announcement; after a lost
    connection it reconnects and wakes every waiter once (it may have missed some)."""
    channel = sql.Identifier(projected_channel(schema))

    def listen(relay: Callable[[set[str] | None, int], None], stop: threading.Event) -> None:
        outage = Outage("the change channel", log)
        while not stop.is_set():
            try:
                with listening(conninfo, channel) as conn:
                    relay(None, position())
                    outage.ended()
                    while not stop.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=100):
                            found = json.loads(notify.payload)
                            jobs = found["j"]
                            relay(None if jobs is None else set(jobs), int(found["p"]))
            except (psycopg.Error, OperationalError) as error:
                stop.wait(outage.failed(error))

    return listen


class AdvisoryLock:
    """A session-level advisory lock, held on a connection of its own for as long as
    that connection lives (so a process that dies lets another take over). A lost
    connection loses the lock; the next ``held`` reconnects and takes it again."""

    def __init__(self, conninfo: str, key: str) -> None:
        self.conninfo = conninfo
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._outage = Outage(f"the advisory lock {key}", log)

    def held(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
                self._held = False
            if self._held:
                self._conn.execute("SELECT 1")  # still connected, so still ours
            else:
                found = self._conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))", [self.key]
                ).fetchone()
                self._held = bool(found and found[0])
            self._outage.ended()
        except psycopg.Error as error:
            self._outage.failed(error)  # the sweeper's interval paces the next attempt
            self.release()
        return self._held

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._held = False


def listening(conninfo: str, channel: sql.Identifier) -> psycopg.Connection[Any]:
    """A connection of its own that LISTENs on ``channel``; a store that cannot be
    reached raises ``OperationalError``, as the ledger's recorder does."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        raise OperationalError(f"cannot LISTEN: {one_line(error)}") from None
    try:
        conn.execute(sql.SQL("LISTEN {}").format(channel))
    except psycopg.Error as error:
        conn.close()
        raise OperationalError(f"cannot LISTEN: {one_line(error)}") from None
    return conn
