"""The SQLite recorder that writes each event's leaf record in the event's own
transaction, and the triggers that keep the log append-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from jobledger.adapters.store.sql.hashes import AuditTables
from jobledger.adapters.store.sql.writer import SQLITE


def audit_tables(events_table: str) -> AuditTables:
    return AuditTables(SQLITE, "BLOB", events_table, "rowid", lambda job: job.hex)


def append_only_triggers(tables: AuditTables) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
        for table in tables.append_only
        for verb in ("UPDATE", "DELETE")
    ]


class HashingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """eventsourcing's recorder, plus a leaf record per event in the same transaction
    (SQLite's write lock is held from the event's INSERT to the commit)."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.audit = audit_tables(events_table_name)
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *self.audit.create_statements(),
            *append_only_triggers(self.audit),
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        self.audit.backfill(c)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        self.audit.record(c, stored_events, positions)
        return positions
