"""The composition root: the one place that builds a Ledger from settings.

Nothing here runs at import time; callers build what they need, when they need it.
"""

from __future__ import annotations

import sqlite3

from eventsourcing.persistence import PersistenceError

from jobledger.adapters.price_books import load_price_book
from jobledger.adapters.settings import MemoryStore, Settings, SQLiteStore, Store, parse_db_url
from jobledger.domain.errors import StoreUnavailable
from jobledger.domain.ledger import Clock, Ledger, utc_now


def persistence_env(store: Store, settings: Settings) -> dict[str, str]:
    if isinstance(store, MemoryStore):
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(store.path),
        "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout_seconds),
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
    store = parse_db_url(settings.db)
    if isinstance(store, SQLiteStore):
        _check_sqlite_path(store)
        if not create and not store.path.exists():
            raise StoreUnavailable(f"no ledger at {store.path}: nothing has been recorded there")
    price_book = load_price_book(settings.price_book)
    try:
        return Ledger(persistence_env(store, settings), price_book=price_book, clock=clock)
    except (PersistenceError, sqlite3.Error, OSError) as error:
        raise StoreUnavailable(f"cannot open database {settings.db}: {error}") from None
