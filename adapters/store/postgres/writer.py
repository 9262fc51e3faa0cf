"""The read models' tables in the ledger's PostgreSQL schema, beside its events."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    Tracking,
)
from eventsourcing.postgres import (
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg import sql
from psycopg.rows import DictRow

from jobledger.adapters.store.sql.writer import SqlReadModelWriter, postgres
from jobledger.projections.base import Commit, PositionMoved
from jobledger.projections.schema import ALL_TABLES, Table

TRACKING_TABLE = "tracking"  # as on SQLite, so the read store's SQL is the same


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

    def commit_together(self, batches: Sequence[Commit]) -> None:
        """Rows of tables whose rows are only added are copied in (``COPY``: a third of
        the server's time an upserted row takes). Should that fail (a row already there,
        a value ``COPY`` reads otherwise than a parameter, as a fraction for an integer
        column in an old event), the transaction fails whole and is written again with
        upserts: the result, or the error, is always an upsert's."""
        try:
            self._commit(batches, self._copy_or_upsert)
        except (PositionMoved, OperationalError, InterfaceError):
            raise  # the same again would fail the same way
        except DatabaseError:
            self._commit(batches, self._upsert)

    def _copy_or_upsert(self, cursor: Any, table: Table, rows: list[list[Any]]) -> None:
        if not table.added_only:
            self._upsert(cursor, table, rows)
            return
        columns = ", ".join(table.column_names)
        with cursor.copy(f"COPY {self.dialect.name(table.name)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
