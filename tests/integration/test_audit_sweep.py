"""``audit verify``'s fast whole-log sweep finds exactly the breaks, in the same order
and words, that the record-by-record check finds, whatever an attacker edits and
however the log is cut into batches."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jobledger.adapters.audit.sweep import sweep
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.domain.audit.verification import Break, LogVerifier, paired
from tests.integration.test_audit_tamper import Tampered

HARMLESS = ("state as text", "upper-case an id")  # read back as the same bytes and id
EDITS = (
    "flip a state byte",
    "state as text",
    "delete an event",
    "delete a leaf record",
    "change a previous",
    "shift a leaf index",
    "upper-case an id",
    "swap two positions",
    "re-name a leaf record's job",
)


@pytest.fixture(scope="module")
def original() -> Iterator[Path]:
    """A ledger of every kind of event and a kept checkpoint, its triggers dropped."""
    folder = Path(tempfile.mkdtemp())
    made = Tampered(Settings(db=f"sqlite:///{folder / 'ledger.db'}"))
    made.close()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def edit(conn: Any, what: str, at: int) -> None:
    rows = conn.execute(
        "SELECT rowid, originator_id, originator_version, state FROM stored_events ORDER BY rowid"
    ).fetchall()
    position, job, _, state = rows[at % len(rows)]
    if what == "flip a state byte":
        changed = bytearray(state)
        changed[0] ^= 1
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(changed), position)
        )
    elif what == "state as text":
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?", (state.decode(), position)
        )
    elif what == "delete an event":
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
    elif what == "delete a leaf record":
        conn.execute("DELETE FROM event_hashes WHERE position = ?", (position,))
    elif what == "change a previous":
        conn.execute(
            "UPDATE event_hashes SET previous = ? WHERE position = ?", (b"x" * 32, position)
        )
    elif what == "shift a leaf index":
        conn.execute(
            "UPDATE event_hashes SET leaf_index = -leaf_index - 1 WHERE position = ?", (position,)
        )
    elif what == "upper-case an id":
        conn.execute(
            "UPDATE stored_events SET originator_id = ? WHERE rowid = ?", (job.upper(), position)
        )
    elif what == "re-name a leaf record's job":
        conn.execute(
            "UPDATE event_hashes SET originator_id = ? WHERE position = ?", ("x", position)
        )
    else:
        other = rows[(at + 5) % len(rows)][0]
        conn.execute("UPDATE event_hashes SET position = -1 WHERE position = ?", (position,))
        conn.execute("UPDATE event_hashes SET position = ? WHERE position = ?", (position, other))
        conn.execute("UPDATE event_hashes SET position = ? WHERE position = -1", (other,))
    conn.commit()


def both(db: Path, batch: int) -> tuple[list[Break], list[Break]]:
    ledger = build_ledger(Settings(db=f"sqlite:///{db}"), create=False)
    try:
        log = backend_of(ledger).audit_log(ledger)
        reference = LogVerifier(log.checkpoints())
        for event, chained in paired(log.events(), log.leaves()):
            reference.feed(event, chained)
        fast = LogVerifier(log.checkpoints())
        sweep(log, fast, batch=batch)
        assert fast.checked == reference.checked
        assert fast.tree.root() == reference.tree.root()
        return fast.finish(), reference.finish()
    finally:
        ledger.close()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(edits=[("re-name a leaf record's job", 3)], batch=7)
@example(edits=[("change a previous", 12), ("swap two positions", 30)], batch=5)
@given(
    edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 10_000)), max_size=3),
    batch=st.integers(2, 40),
)
def test_the_sweep_finds_what_the_record_by_record_check_finds(
    original: Path, edits: list[tuple[str, int]], batch: int
) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        for item in original.iterdir():
            shutil.copy(item, folder / item.name)
        conn = sqlite3.connect(folder / "ledger.db")
        for what, at in edits:
            edit(conn, what, at)
        conn.close()
        fast, reference = both(folder / "ledger.db", batch)
        assert [str(b) for b in fast] == [str(b) for b in reference]
        assert bool(fast) == any(what not in HARMLESS for what, _ in edits)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
