"""Whoever edits the store directly, past its triggers, is caught by ``verify``: each
break names the job, the version and the position. An untouched ledger verifies."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from jobledger.adapters.audit.auditor import take_checkpoint, verify_log
from jobledger.adapters.audit.signing import ledger_key
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.domain.audit.leaves import StoredRecord, chain
from jobledger.domain.audit.verification import Break, BreakKind
from tests.conftest import ANALYST, MovableClock, fresh_store
from tests.integration.history_of_every_event import write_every_event

Sql = Callable[..., list[Any]]


class Tampered:
    """A ledger with a kept checkpoint, and raw SQL on its store with the triggers
    dropped, as an attacker with the file or a superuser's rights would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        clock = MovableClock()
        self.ledger = build_ledger(settings, clock=clock)
        write_every_event(self.ledger, clock.advance)
        self.log = backend_of(self.ledger).audit_log(self.ledger)
        self.key = ledger_key(settings)
        self.checkpoint = take_checkpoint(self.log, self.key, datetime(2026, 11, 2, tzinfo=UTC))
        self.events = self.ledger.recorder.events_table_name  # type: ignore[attr-defined]
        self.position = self.log.tables.position
        self._open()
        for table in (self.events, "event_hashes"):
            self._drop_triggers(table)

    def _open(self) -> None:
        if self.settings.db.startswith("sqlite"):
            self.conn: Any = sqlite3.connect(self.settings.db.removeprefix("sqlite:///"))
            self.mark = "?"
        else:
            store = PostgresStore.parse(self.settings.db, self.settings.pg_schema)
            self.conn = psycopg.connect(store.conninfo(), autocommit=True)
            self.conn.execute(f'SET search_path TO "{self.settings.pg_schema}"')
            self.mark = "%s"

    def _drop_triggers(self, table: str) -> None:
        if self.mark == "?":
            for verb in ("update", "delete"):
                self.sql(f"DROP TRIGGER {table}_no_{verb}")
        else:
            self.sql(f"DROP TRIGGER {table}_append_only ON {table}")

    def sql(self, statement: str, *params: Any) -> list[Any]:
        cursor = self.conn.execute(statement.replace("?", self.mark), params)
        rows = cursor.fetchall() if cursor.description else []
        if self.mark == "?":
            self.conn.commit()
        return list(rows)

    def rows(self) -> list[tuple[Any, ...]]:
        """(position, originator_id, version, topic, state) in log order."""
        return self.sql(
            f"SELECT {self.position}, originator_id, originator_version, topic, state "
            f"FROM {self.events} ORDER BY {self.position}"
        )

    def verify(self) -> list[Break]:
        return verify_log(self.log, self.key.public_key()).breaks

    def close(self) -> None:
        self.conn.close()
        self.ledger.close()


@pytest.fixture
def tampered(tmp_path: Path) -> Iterator[Tampered]:
    with fresh_store("sqlite") as settings:
        made = Tampered(settings)
        yield made
        made.close()


@pytest.fixture(params=["sqlite", "postgres"])
def either(request: pytest.FixtureRequest) -> Iterator[Tampered]:
    with fresh_store(request.param) as settings:
        made = Tampered(settings)
        yield made
        made.close()


def insert_event(at: Tampered) -> str:
    columns = "rowid, originator_id, originator_version, topic, state"
    return f"INSERT INTO {at.events} ({columns}) VALUES (?, ?, ?, ?, ?)"


def job_of(row: tuple[Any, ...]) -> str:
    return str(UUID(str(row[1])))


def test_an_untouched_ledger_verifies(either: Tampered) -> None:
    assert either.verify() == []
    assert either.checkpoint.tree_size == len(either.rows())


def test_one_changed_byte_of_a_payload_is_found_where_it_is(either: Tampered) -> None:
    row = either.rows()[7]
    changed = bytearray(row[4])
    changed[len(changed) // 2] ^= 1
    either.sql(
        f"UPDATE {either.events} SET state = ? WHERE {either.position} = ?", bytes(changed), row[0]
    )
    breaks = either.verify()
    assert (breaks[0].kind, breaks[0].job, breaks[0].version, breaks[0].position) == (
        BreakKind.CHANGED, job_of(row), row[2], row[0]
    )  # fmt: skip
    assert [b.kind for b in breaks] == [BreakKind.CHANGED, BreakKind.CHECKPOINT]


def test_a_deleted_event_is_found(either: Tampered) -> None:
    row = either.rows()[3]
    either.sql(f"DELETE FROM {either.events} WHERE {either.position} = ?", row[0])
    kinds = {(b.kind, b.job, b.position) for b in either.verify()}
    assert (BreakKind.REMOVED, job_of(row), row[0]) in kinds
    assert BreakKind.CHECKPOINT in {k for k, _, _ in kinds}


def test_two_swapped_events_are_found(tampered: Tampered) -> None:
    rows = tampered.rows()
    first = rows[2]
    second = next(r for r in rows[5:] if job_of(r) != job_of(first))
    tampered.sql(
        f"DELETE FROM {tampered.events} WHERE {tampered.position} IN (?, ?)", first[0], second[0]
    )
    for at, row in ((first[0], second), (second[0], first)):
        tampered.sql(insert_event(tampered), at, *row[1:])
    found = {(b.kind, b.position) for b in tampered.verify()}
    assert {(BreakKind.REORDERED, first[0]), (BreakKind.REORDERED, second[0])} <= found


def test_a_forged_event_with_recomputed_hashes_breaks_the_kept_checkpoint(
    tampered: Tampered,
) -> None:
    """The attacker inserts an event into the middle of the log and rewrites every later
    event and leaf record consistently: only the checkpoint kept before shows it."""
    rows = tampered.rows()
    cut = 20
    forged = (uuid4().hex, 1, rows[0][3], rows[0][4])  # a job submitted by no one
    later = [forged, *(r[1:] for r in rows[cut:])]
    tampered.sql(f"DELETE FROM {tampered.events} WHERE rowid > ?", rows[cut - 1][0])
    tampered.sql("DELETE FROM event_hashes WHERE leaf_index >= ?", cut)
    last: dict[str, bytes] = {}
    for r in tampered.sql("SELECT originator_id, leaf FROM event_hashes ORDER BY leaf_index"):
        last[r[0]] = bytes(r[1])
    records = []
    for offset, (originator, version, topic, state) in enumerate(later):
        position = rows[cut - 1][0] + 1 + offset
        tampered.sql(insert_event(tampered), position, originator, version, topic, state)
        records.append(StoredRecord(position, str(UUID(originator)), version, topic, state))
    for r in chain(records, cut, last):
        tampered.sql(
            "INSERT INTO event_hashes VALUES (?, ?, ?, ?, ?, ?)",
            r.index, r.position, r.originator_id, r.version, r.previous, r.leaf,
        )  # fmt: skip
    breaks = tampered.verify()
    assert [b.kind for b in breaks] == [BreakKind.CHECKPOINT]
    assert "changed between event 1 and event" in breaks[0].detail


def test_a_truncated_tail_is_found(either: Tampered) -> None:
    rows = either.rows()
    either.sql(f"DELETE FROM {either.events} WHERE {either.position} >= ?", rows[-3][0])
    either.sql("DELETE FROM event_hashes WHERE position >= ?", rows[-3][0])
    breaks = either.verify()
    assert [b.kind for b in breaks] == [BreakKind.CHECKPOINT]
    assert f"holds only {len(rows) - 3}" in breaks[0].detail


def test_a_later_write_still_verifies_against_the_kept_checkpoint(tampered: Tampered) -> None:
    tampered.ledger.submit(ANALYST, "graph_analysis")
    assert tampered.verify() == []
