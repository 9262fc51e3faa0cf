"""SQLite, the embedded default: events, read models and receipts in one file."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import get_topic

from jobledger.adapters.settings import Settings
from jobledger.adapters.store.backend import ListenForProjections, StoreBackend
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.adapters.store.sql.read_store import ReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelWriter
from jobledger.adapters.store.sqlite.live import (
    SignallingSQLiteApplicationRecorder,
    SQLiteSubscription,
)
from jobledger.adapters.store.sqlite.lock import FileLock
from jobledger.adapters.store.sqlite.read_store import SQLiteReadStorePool
from jobledger.adapters.store.sqlite.watch import listen_projected
from jobledger.adapters.store.sqlite.writer import SQLiteReadModelWriter
from jobledger.adapters.sweeper import SweepLock
from jobledger.domain.errors import ConfigurationError, StoreUnavailable
from jobledger.domain.ledger import Ledger
from jobledger.projections.runner import BatchSubscription

EVENTS_TABLE = "stored_events"  # eventsourcing's name for the application's events


class SQLiteBackend(StoreBackend):
    """A ledger in one SQLite file, on one machine: processes that share it hear of each
    other's commits by watching the file (``watch.py``)."""

    schemes = ("sqlite:///",)
    example = "sqlite:///path/to/file.db"
    shares_read_models = True
    errors: ClassVar[tuple[type[BaseException], ...]] = (PersistenceError, sqlite3.Error, OSError)
    busy_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.OperationalError,)

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> SQLiteBackend:
        """``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError("JOBLEDGER_DB: sqlite URL has no file path")
        return cls(Path(path))

    @classmethod
    def of_ledger(cls, ledger: Ledger) -> SQLiteBackend | None:
        factory = ledger.factory
        if not isinstance(factory, SQLiteFactory):
            return None
        return cls(Path(factory.datastore.pool.db_name))

    def __str__(self) -> str:
        return f"sqlite:///{self.path}"

    def persistence_env(self, settings: Settings) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.path),
            "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
            "APPLICATION_RECORDER_TOPIC": get_topic(SignallingSQLiteApplicationRecorder),
        }

    def prepare(self, *, create: bool) -> None:
        """One clear line for a path that can never hold a database, or holds none."""
        path = self.path
        parent = path.parent if str(path.parent) else path.cwd()
        if path.is_dir():
            raise StoreUnavailable(f"cannot open database {path}: it is a directory")
        if not parent.exists():
            raise StoreUnavailable(f"cannot create database {path}: folder {parent} does not exist")
        if not parent.is_dir():
            raise StoreUnavailable(f"cannot create database {path}: {parent} is not a folder")
        if not create and not path.exists():
            raise StoreUnavailable(f"no ledger at {path}: nothing has been recorded there")

    def read_model_writer(self, ledger: Ledger) -> SqlReadModelWriter:
        factory = ledger.factory
        assert isinstance(factory, SQLiteFactory)
        return SQLiteReadModelWriter(factory.datastore)

    def subscription(self, ledger: Ledger, after: int) -> BatchSubscription:
        recorder = ledger.recorder
        assert isinstance(recorder, SignallingSQLiteApplicationRecorder)
        return SQLiteSubscription(recorder, gt=after)

    def read_pool(self, size: int) -> ReadStorePool:
        return SQLiteReadStorePool(self.path, size)

    def projections_elsewhere(self) -> Callable[[Callable[[], int]], ListenForProjections]:
        def listen(reached: Callable[[], int]) -> ListenForProjections:
            return listen_projected(self.path, EVENTS_TABLE, reached)

        return listen

    def sweep_lock(self) -> SweepLock:
        """Only the process holding the lock file beside the ledger sweeps."""
        return FileLock(self.path.with_name(self.path.name + ".sweeper.lock"))

    def audit_log(self, ledger: Ledger) -> SqlAuditLog:
        recorder = ledger.recorder
        assert isinstance(recorder, SignallingSQLiteApplicationRecorder)
        return SqlAuditLog(recorder.audit, ledger.factory.datastore)  # type: ignore[attr-defined]

    def dev_key_path(self, state_dir: Path) -> Path:
        """Beside the database file it guards: whoever may read the one may read the other."""
        return self.path.with_name(self.path.name + ".signing-key.pem")
