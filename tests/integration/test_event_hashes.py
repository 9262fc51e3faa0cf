"""Every stored event gets its leaf record in the same transaction, chained to the
job's previous event; the events and their records cannot be changed or deleted."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.audit.leaves import GENESIS, StoredRecord, event_leaf
from jobledger.domain.ledger import Ledger
from tests.conftest import ANALYST, MovableClock, select
from tests.integration.history_of_every_event import write_every_event


def execute(ledger: Ledger, statement: str) -> None:
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=True) as cursor:
        if schema is not None:
            cursor.execute(f'SET LOCAL search_path TO "{schema}"')
        cursor.execute(statement)


def events_table(ledger: Ledger) -> str:
    """``stored_events`` on SQLite, ``ledger_events`` on PostgreSQL (eventsourcing's names)."""
    name: str = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    return name


def stored(ledger: Ledger) -> list[StoredRecord]:
    return [
        StoredRecord(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
        for n in ledger.recorder.select_notifications(start=1, limit=10_000)
    ]


def leaf_rows(ledger: Ledger) -> list[dict[str, Any]]:
    return select(ledger, "SELECT * FROM event_hashes ORDER BY leaf_index")


def test_every_event_has_a_leaf_chained_to_its_jobs_previous_event(
    ledger: Ledger, clock: MovableClock
) -> None:
    write_every_event(ledger, clock.advance)
    events, rows = stored(ledger), leaf_rows(ledger)
    assert [r["leaf_index"] for r in rows] == list(range(len(events)))
    assert [r["position"] for r in rows] == [e.position for e in events]
    last: dict[str, bytes] = {}
    for event, row in zip(events, rows, strict=True):
        assert (row["originator_id"], row["originator_version"]) == (
            event.originator_id,
            event.version,
        )
        assert bytes(row["previous"]) == last.get(event.originator_id, GENESIS)
        assert bytes(row["leaf"]) == event_leaf(event, bytes(row["previous"]))
        last[event.originator_id] = bytes(row["leaf"])


def test_a_refused_append_writes_no_leaf(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    before = leaf_rows(ledger)
    clash = StoredEvent(originator_id=job_id, originator_version=1, topic="x", state=b"{}")
    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events([clash])
    assert leaf_rows(ledger) == before
    ledger.cancel(ANALYST, job_id)
    assert len(leaf_rows(ledger)) == len(stored(ledger)) == len(before) + 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {events} SET topic = 'x'",
        "DELETE FROM {events}",
        "UPDATE event_hashes SET leaf = previous",
        "DELETE FROM event_hashes",
    ],
)
def test_the_log_refuses_update_and_delete(ledger: Ledger, statement: str) -> None:
    ledger.submit(ANALYST, "graph_analysis")
    before = stored(ledger), leaf_rows(ledger)
    with pytest.raises(Exception, match="append-only"):
        execute(ledger, statement.format(events=events_table(ledger)))
    assert (stored(ledger), leaf_rows(ledger)) == before


def test_a_ledger_written_before_hashes_is_hashed_when_opened(db_url: str) -> None:
    settings = Settings(db=db_url)
    ledger = build_ledger(settings)
    for _ in range(3):
        job_id: UUID = ledger.submit(ANALYST, "graph_analysis").job_id
        ledger.cancel(ANALYST, job_id)
    written = leaf_rows(ledger)
    execute(ledger, "DROP TABLE event_hashes")  # as an older release left it
    ledger.close()
    reopened = build_ledger(settings)
    assert leaf_rows(reopened) == written
    reopened.close()
