"""The read models' tables in SQLite, beside the ledger's events in the same file.

One view class serves every projection: tables come from ``projections.schema``
and each batch's rows are written with the projection's tracking position in
one transaction. The tracking row is written first, so the transaction takes
SQLite's write lock before it reads, and a position already recorded aborts it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from jobledger.projections.base import Commit, Key, PositionMoved, ReadModelView, Row
from jobledger.projections.schema import ALL_TABLES, ColumnType, Table

SQL_TYPES: dict[ColumnType, str] = {
    "text": "TEXT",
    "integer": "INTEGER",
    "decimal": "TEXT",
    "timestamp": "TEXT",
    "boolean": "INTEGER",
}
KEYS_PER_QUERY = 400


def to_sql(kind: ColumnType, value: Any) -> Any:
    if value is None:
        return None
    if kind == "decimal":
        return str(value)
    if kind == "timestamp":
        return value.isoformat(timespec="microseconds")
    if kind == "boolean":
        return int(bool(value))
    return value


def from_sql(kind: ColumnType, value: Any) -> Any:
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(value)
    if kind == "timestamp":
        return datetime.fromisoformat(value)
    if kind == "boolean":
        return bool(value)
    return value


def create_statements(table: Table) -> list[str]:
    columns = ", ".join(
        f"{c.name} {SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    )
    statements = [
        f"CREATE TABLE IF NOT EXISTS {table.name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"
    ]
    for index in table.indexes:
        name = f"{table.name}_by_{'_'.join(index)}"
        statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({', '.join(index)})")
    return statements


class SQLiteReadModelView(SQLiteTrackingRecorder, ReadModelView):
    def __init__(self, datastore: SQLiteDatastore, tables: Sequence[Table] = ALL_TABLES) -> None:
        super().__init__(datastore)
        for table in tables:
            self.create_table_statements.extend(create_statements(table))
        self._upserts = {table: _upsert_statement(table) for table in tables}
        self._converters = {table: _row_converter(table) for table in tables}

    def fetch(self, table: Table, keys: Collection[Key]) -> dict[Key, Row]:
        found: dict[Key, Row] = {}
        wanted = list(keys)
        names = table.column_names
        kinds = [c.type for c in table.columns]
        key_kinds = [table.columns[names.index(k)].type for k in table.key]
        with self.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                chunk = wanted[start : start + KEYS_PER_QUERY]
                cursor.execute(
                    _select_statement(table, len(chunk)),
                    [
                        to_sql(kind, part)
                        for key in chunk
                        for kind, part in zip(key_kinds, key, strict=True)
                    ],
                )
                for record in cursor.fetchall():
                    row = {n: from_sql(k, record[n]) for n, k in zip(names, kinds, strict=True)}
                    found[tuple(row[k] for k in table.key)] = row
        return found

    def commit_together(self, batches: Sequence[Commit]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for _, tracking, previous in batches:  # positions first: takes the write lock
                self._advance(cursor, tracking, previous)
            for changes, _, _ in batches:
                for table, rows in changes.items():
                    convert = self._converters[table]
                    cursor.executemany(self._upserts[table], [convert(row) for row in rows])

    def _advance(self, cursor: SQLiteCursor, tracking: Tracking, previous: int | None) -> None:
        """Move the position, from ``previous`` only (compare and set) when it is given."""
        if previous is None:
            self._insert_tracking(cursor, tracking)
            return
        name, position = tracking.application_name, tracking.notification_id
        if previous == 0:
            cursor.execute(
                "INSERT INTO tracking VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                [name, position],
            )
        else:
            cursor.execute(
                "UPDATE tracking SET notification_id = ? "
                "WHERE application_name = ? AND notification_id = ? RETURNING 1",
                [position, name, previous],
            )
        if cursor.fetchone() is None:
            raise PositionMoved(f"{name}: position is no longer {previous}")

    def reset(self, tables: Iterable[Table], tracking_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {table.name}")
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", [tracking_name])


def _upsert_statement(table: Table) -> str:
    names = table.column_names
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in table.key)
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(table.key)}) {conflict}"
    )


def _select_statement(table: Table, count: int) -> str:
    if len(table.key) == 1:
        return f"SELECT * FROM {table.name} WHERE {table.key[0]} IN ({', '.join('?' * count)})"
    one = f"({', '.join('?' * len(table.key))})"
    return (
        f"SELECT * FROM {table.name} WHERE ({', '.join(table.key)}) "
        f"IN (VALUES {', '.join([one] * count)})"
    )


def _row_converter(table: Table) -> Callable[[Row], list[Any]]:
    columns = [(c.name, c.type) for c in table.columns]
    return lambda row: [to_sql(kind, row[name]) for name, kind in columns]
