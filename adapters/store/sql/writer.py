"""Read-model tables in a SQL database, written the same way on SQLite and PostgreSQL.

One view class per store serves every projection: tables come from
``projections.schema`` and each batch's rows are written with the projections'
tracking positions in one transaction. The positions are written first (taking
the write lock before anything is read) and move by compare-and-set, so a batch
folded from a position another runner has since moved is refused whole.

Values are stored the same way on both stores: ``decimal`` and ``timestamp`` as
text (exact, and ordered as text in UTC), ``boolean`` as 0 or 1. Reporting SQL
therefore means the same on either.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import Any

from eventsourcing.persistence import Tracking

from jobledger.domain.lifecycle import LEASED
from jobledger.projections.base import Commit, Key, PositionMoved, ReadModelView, Row
from jobledger.projections.schema import READ_MODEL_VERSIONS, ColumnType, Table

KEYS_PER_QUERY = 400
# Writes a table's rows (each a list of values in column order) through a cursor.
Write = Callable[[Any, Table, list[list[Any]]], None]
# How a value of each converted type is stored (text and integers go as they are).
WRITTEN: dict[ColumnType, Callable[[Any], Any]] = {
    "decimal": str,
    "timestamp": partial(datetime.isoformat, timespec="microseconds"),
    "boolean": lambda value: int(bool(value)),
}


def to_sql(kind: ColumnType, value: Any) -> Any:
    write = WRITTEN.get(kind)
    return value if value is None or write is None else write(value)


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


@dataclass(frozen=True)
class Dialect:
    """What differs between the stores: placeholders, column types, table names."""

    mark: str
    types: dict[ColumnType, str]
    schema: str = ""

    @property
    def columns_statement(self) -> str:
        if self.schema:
            return (
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
            )
        return "SELECT name FROM pragma_table_info(?) ORDER BY cid"

    def columns_params(self, table: Table) -> list[str]:
        return [self.schema, table.name] if self.schema else [table.name]

    def name(self, table: str) -> str:
        return f'"{self.schema}".{table}' if self.schema else table

    def create_statements(self, table: Table) -> list[str]:
        columns = ", ".join(
            f"{c.name} {self.types[c.type]}{'' if c.nullable else ' NOT NULL'}"
            for c in table.columns
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.name(table.name)} "
            f"({columns}, PRIMARY KEY ({', '.join(table.key)}))"
        ]
        for index in table.indexes:
            index_name = f"{table.name}_by_{'_'.join(index)}"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index_name} "
                f"ON {self.name(table.name)} ({', '.join(index)})"
            )
        return statements

    def upsert(self, table: Table) -> str:
        names = table.column_names
        stored = self.name(table.name)
        updates = ", ".join(
            f"{n} = {stored}.{n} + excluded.{n}" if n in table.counters else f"{n} = excluded.{n}"
            for n in names
            if n not in table.key
        )
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        marks = ", ".join([self.mark] * len(names))
        return (
            f"INSERT INTO {stored} ({', '.join(names)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(table.key)}) {conflict}"
        )

    def select_by_keys(self, table: Table, count: int) -> str:
        if len(table.key) == 1:
            marks = ", ".join([self.mark] * count)
            return f"SELECT * FROM {self.name(table.name)} WHERE {table.key[0]} IN ({marks})"
        one = f"({', '.join([self.mark] * len(table.key))})"
        return (
            f"SELECT * FROM {self.name(table.name)} WHERE ({', '.join(table.key)}) "
            f"IN (VALUES {', '.join([one] * count)})"
        )


SQLITE = Dialect(
    "?",
    {
        "text": "TEXT",
        "integer": "INTEGER",
        "decimal": "TEXT",
        "timestamp": "TEXT",
        "boolean": "INTEGER",
    },
)


def postgres(schema: str) -> Dialect:
    # "C" collation: text orders byte by byte, as in SQLite (timestamps and cursors rely on it)
    text = 'TEXT COLLATE "C"'
    types: dict[ColumnType, str] = {
        "text": text, "integer": "BIGINT", "decimal": text, "timestamp": text, "boolean": "INTEGER",
    }  # fmt: skip
    return Dialect("%s", types, schema)


class SqlReadModelWriter(ReadModelView):
    """The view's logic, over whatever gives it a cursor in a transaction."""

    dialect: Dialect
    tables: Sequence[Table]

    @abstractmethod
    def _transaction(self, commit: bool) -> AbstractContextManager[Any]:
        """A cursor in a transaction, committed at the end if ``commit``."""

    @abstractmethod
    def create_table(self) -> None:
        """Create the tracking table and every table of the contract (the store's recorder)."""

    @abstractmethod
    def _insert_position(self, cursor: Any, tracking: Tracking) -> None:
        """Record a position that must be past the recorded one (else IntegrityError)."""

    def _prepare(self, tables: Sequence[Table]) -> list[str]:
        self.tables = tables
        self._upserts = {table: self.dialect.upsert(table) for table in tables}
        self._converters = {table: _row_converter(table) for table in tables}
        return [s for table in tables for s in self.dialect.create_statements(table)]

    def fetch(self, table: Table, keys: Collection[Key]) -> dict[Key, Row]:
        found: dict[Key, Row] = {}
        wanted = list(keys)
        names = table.column_names
        kinds = [c.type for c in table.columns]
        key_kinds = [table.columns[names.index(k)].type for k in table.key]
        with self._transaction(commit=False) as cursor:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                chunk = wanted[start : start + KEYS_PER_QUERY]
                cursor.execute(
                    self.dialect.select_by_keys(table, len(chunk)),
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
        self._commit(batches, self._upsert)

    def _commit(self, batches: Sequence[Commit], write: Write) -> None:
        """Move the positions, then ``write`` each table's rows, in one transaction."""
        with self._transaction(commit=True) as cursor:
            for _, tracking, previous in batches:  # positions first: takes the write lock
                self._advance(cursor, tracking, previous)
            for changes, _, _ in batches:
                for table, rows in changes.items():
                    convert = self._converters[table]
                    converted = [convert(row) for row in rows]
                    if converted:
                        write(cursor, table, converted)

    def _upsert(self, cursor: Any, table: Table, rows: list[list[Any]]) -> None:
        cursor.executemany(self._upserts[table], rows)

    def _advance(self, cursor: Any, tracking: Tracking, previous: int | None) -> None:
        """Move the position, from ``previous`` only (compare and set) when it is given."""
        if previous is None:
            self._insert_position(cursor, tracking)
            return
        name, position = tracking.application_name, tracking.notification_id
        mark, tracking_table = self.dialect.mark, self.dialect.name("tracking")
        if previous == 0:
            cursor.execute(
                f"INSERT INTO {tracking_table} VALUES ({mark}, {mark}) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                [name, position],
            )
        else:
            cursor.execute(
                f"UPDATE {tracking_table} SET notification_id = {mark} "
                f"WHERE application_name = {mark} AND notification_id = {mark} RETURNING 1",
                [position, name, previous],
            )
        if cursor.fetchone() is None:
            raise PositionMoved(f"{name}: position is no longer {previous}")

    def stored_columns(self, table: Table) -> list[str] | None:
        """The columns the table has in the store, in order; None if it is not there."""
        with self._transaction(commit=False) as cursor:
            cursor.execute(self.dialect.columns_statement, self.dialect.columns_params(table))
            found = [next(iter(dict(row).values())) for row in cursor.fetchall()]
        return found or None

    def stored_versions(self) -> dict[str, int]:
        """The version each read model's rows were built by (none before versions were kept)."""
        if self.stored_columns(READ_MODEL_VERSIONS) is None:
            return {}
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT name, version FROM {self.dialect.name(READ_MODEL_VERSIONS.name)}"
            )
            return {row["name"]: int(row["version"]) for row in cursor.fetchall()}

    def record_versions(self, versions: dict[str, int]) -> None:
        upsert = self._upserts[READ_MODEL_VERSIONS]
        with self._transaction(commit=True) as cursor:
            for name, version in versions.items():
                cursor.execute(upsert, [name, version])

    def expired_leases(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(job id, tenant) of leased jobs whose lease has run out by ``now`` (a lease
        lapses at its deadline, as the Job decides), oldest first."""
        mark = self.dialect.mark
        leased = ", ".join([mark] * len(LEASED))
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT job_id, tenant FROM {self.dialect.name('job_summaries')} "
                f"WHERE lease_expires_at <= {mark} AND status IN ({leased}) "
                f"ORDER BY lease_expires_at LIMIT {int(limit)}",
                [to_sql("timestamp", now), *(s.value for s in LEASED)],
            )
            return [(row["job_id"], row["tenant"]) for row in cursor.fetchall()]

    def expired_task_leases(self, now: datetime, limit: int) -> list[tuple[str, str, str]]:
        """(job id, task id, tenant) of executing tasks whose lease has run out by ``now``."""
        mark = self.dialect.mark
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT job_id, task_id, tenant FROM {self.dialect.name('tasks')} "
                f"WHERE state = 'executing' AND lease_expires_at <= {mark} "
                f"ORDER BY lease_expires_at LIMIT {int(limit)}",
                [to_sql("timestamp", now)],
            )
            return [(row["job_id"], row["task_id"], row["tenant"]) for row in cursor.fetchall()]

    def drop(self, tables: Iterable[Table], tracking_name: str) -> None:
        """Remove the tables and forget the position: the next catch-up rebuilds them."""
        self._clear("DROP TABLE IF EXISTS", tables, tracking_name)

    def reset(self, tables: Iterable[Table], tracking_name: str) -> None:
        self._clear("DELETE FROM", tables, tracking_name)

    def _clear(self, verb: str, tables: Iterable[Table], tracking_name: str) -> None:
        with self._transaction(commit=True) as cursor:
            for table in tables:
                cursor.execute(f"{verb} {self.dialect.name(table.name)}")
            cursor.execute(
                f"DELETE FROM {self.dialect.name('tracking')} "
                f"WHERE application_name = {self.dialect.mark}",
                [tracking_name],
            )


def _row_converter(table: Table) -> Callable[[Row], list[Any]]:
    """A row's values in column order; only decimals, timestamps and booleans are
    converted (text and integers go as they are: most values, in every written row)."""
    names = table.column_names
    values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    converted = [(i, WRITTEN[c.type]) for i, c in enumerate(table.columns) if c.type in WRITTEN]

    def convert(row: Row) -> list[Any]:
        found = list(values(row))
        for index, write in converted:
            value = found[index]
            if value is not None:
                found[index] = write(value)
        return found

    return convert
