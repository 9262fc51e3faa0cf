"""The read models' tables in SQLite, beside the ledger's events in the same file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from jobledger.adapters.store.sql.writer import SQLITE, SqlReadModelWriter, from_sql, to_sql
from jobledger.projections.schema import ALL_TABLES, Table

__all__ = ["SQLiteReadModelWriter", "from_sql", "to_sql"]


class SQLiteReadModelWriter(SQLiteTrackingRecorder, SqlReadModelWriter):
    dialect = SQLITE

    def __init__(self, datastore: SQLiteDatastore, tables: Sequence[Table] = ALL_TABLES) -> None:
        super().__init__(datastore)
        self.create_table_statements.extend(self._prepare(tables))

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    def _insert_position(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)
