"""The PostgreSQL recorder that writes each event's leaf record in the event's own
transaction, and the triggers that keep the log append-only.

eventsourcing locks the events table (EXCLUSIVE) for every insert, so positions commit
in order; the leaf records are written under the same lock, after the notification ids
are known, so leaf indexes and each job's chain follow commit order too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor, sql
from psycopg.rows import DictRow

from jobledger.adapters.store.sql.hashes import AuditTables
from jobledger.adapters.store.sql.writer import postgres

REFUSE = "jobledger_append_only"


def audit_tables(schema: str, events_table: str) -> AuditTables:
    dialect = postgres(schema)
    events = dialect.name(events_table)
    resume = (  # the next event's notification id follows the imported ones
        f"SELECT setval(pg_get_serial_sequence('{events}', 'notification_id'), "
        f"(SELECT MAX(notification_id) FROM {events}))"
    )
    return AuditTables(dialect, "BYTEA", events_table, "notification_id", lambda job: job, resume)


def append_only_triggers(tables: AuditTables) -> list[str]:
    d = tables.dialect
    refuse = d.name(REFUSE)
    statements = [
        f"CREATE OR REPLACE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    ]
    for table in tables.append_only:
        statements += [
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
            f"ON {d.name(table)} FOR EACH ROW EXECUTE FUNCTION {refuse}()",
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE "
            f"ON {d.name(table)} FOR EACH STATEMENT EXECUTE FUNCTION {refuse}()",
        ]
    return statements


class HashingPostgresApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder, plus a leaf record per event in the same transaction."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.audit = audit_tables(datastore.schema, events_table_name)
        statements = [*self.audit.create_statements(), *append_only_triggers(self.audit)]
        self.sql_create_statements.extend(sql.Composed([sql.SQL(s)]) for s in statements)

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as cursor:
            self.audit.backfill(cursor)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert positions is not None
        self.audit.record(curs, stored_events, positions)
        return positions
