"""PostgreSQL: how several API and worker processes, on several machines, share a ledger."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from psycopg.conninfo import conninfo_to_dict

from jobledger.adapters.settings import Settings
from jobledger.adapters.store.backend import ListenForProjections, StoreBackend
from jobledger.adapters.store.postgres.database import (
    conninfo_of,
    creating_tables,
    ensure_schema,
    has_ledger,
    one_line,
    persistence_env,
)
from jobledger.adapters.store.postgres.hashes import HashingPostgresApplicationRecorder
from jobledger.adapters.store.postgres.live import PostgresSubscription
from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.adapters.store.postgres.lock import AdvisoryLock
from jobledger.adapters.store.postgres.notify import ProjectedNotifier, listen_projected
from jobledger.adapters.store.postgres.read_store import PostgresReadStorePool
from jobledger.adapters.store.postgres.writer import PostgresReadModelWriter
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.adapters.store.sql.read_store import ReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelWriter
from jobledger.adapters.sweeper import SweepLock
from jobledger.domain.errors import StoreUnavailable
from jobledger.domain.ledger import Ledger
from jobledger.projections.runner import BatchSubscription, Listener


class PostgresBackend(StoreBackend):
    """A ledger in one schema of a PostgreSQL database, shared by many processes."""

    schemes = ("postgresql://", "postgres://")
    example = "postgresql://user@host:port/database"
    shares_read_models = True
    errors: ClassVar[tuple[type[BaseException], ...]] = (PersistenceError, psycopg.Error, OSError)
    busy_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.OperationalError,)

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> PostgresBackend:
        return cls(PostgresStore.parse(url, settings.pg_schema))

    @classmethod
    def of_ledger(cls, ledger: Ledger) -> PostgresBackend | None:
        factory = ledger.factory
        if not isinstance(factory, PostgresFactory):
            return None
        found = conninfo_to_dict(conninfo_of(factory.datastore))
        store = PostgresStore(
            host=str(found.get("host", "localhost")),
            port=int(found.get("port") or 5432),
            user=str(found.get("user", "postgres")),
            password=str(found.get("password", "")),
            dbname=str(found.get("dbname", "")),
            schema=factory.datastore.schema,
        )
        return cls(store)

    def __str__(self) -> str:
        return str(self.store)

    @property
    def conninfo(self) -> str:
        return self.store.conninfo()

    def persistence_env(self, settings: Settings) -> dict[str, str]:
        return persistence_env(self.store, settings.sqlite_lock_timeout_seconds)

    def prepare(self, *, create: bool) -> None:
        if not create and not has_ledger(self.store):
            raise StoreUnavailable(f"no ledger in {self.store}: nothing has been recorded there")
        ensure_schema(self.store)

    def creating_tables(self) -> AbstractContextManager[None]:
        return creating_tables(self.conninfo, self.store.schema)

    def read_model_writer(self, ledger: Ledger) -> SqlReadModelWriter:
        factory = ledger.factory
        assert isinstance(factory, PostgresFactory)
        return PostgresReadModelWriter(factory.datastore)

    def subscription(self, ledger: Ledger, after: int) -> BatchSubscription:
        recorder = ledger.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        return PostgresSubscription(recorder, self.conninfo, after)

    def read_pool(self, size: int) -> ReadStorePool:
        return PostgresReadStorePool(self.conninfo, self.store.schema, size)

    def announcer(self) -> Listener:
        return ProjectedNotifier(self.conninfo, self.store.schema)

    def projections_elsewhere(self) -> Callable[[Callable[[], int]], ListenForProjections]:
        def listen(reached: Callable[[], int]) -> ListenForProjections:
            return listen_projected(self.conninfo, self.store.schema, reached)

        return listen

    def sweep_lock(self) -> SweepLock:
        """Only the holder of the schema's advisory lock sweeps."""
        return AdvisoryLock(self.conninfo, f"jobledger-sweeper:{self.store.schema}")

    def audit_log(self, ledger: Ledger) -> SqlAuditLog:
        recorder = ledger.recorder
        assert isinstance(recorder, HashingPostgresApplicationRecorder)
        return SqlAuditLog(recorder.audit, ledger.factory.datastore)  # type: ignore[attr-defined]

    def dev_key_path(self, state_dir: Path) -> Path:
        """In the user's state folder, named after the server, database and schema: a
        database has no file beside which to keep it, and the working folder may be a
        source tree that gets committed."""
        s = self.store
        return state_dir / "keys" / f"{s.host}-{s.port}-{s.dbname}-{s.schema}.signing-key.pem"

    def describe_error(self, error: BaseException) -> str:
        return one_line(error)
