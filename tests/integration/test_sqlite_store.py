"""The SQLite store keeps every event exactly, across processes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.price_books import load_price_book
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sqlite.backend import SQLiteBackend
from jobledger.domain.errors import StoreUnavailable
from jobledger.domain.events import EVENT_TYPES, JobEvent, UsageRecorded
from jobledger.domain.ledger import Ledger
from tests.conftest import MovableClock
from tests.integration.history_of_every_event import write_every_event

READ_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import pickle, sys
    from uuid import UUID
    from jobledger.adapters.bootstrap import build_ledger
    from jobledger.adapters.settings import Settings
    ledger = build_ledger(Settings(db=sys.argv[1]))
    ids = [UUID(text) for text in sys.argv[2:]]
    sys.stdout.buffer.write(pickle.dumps([list(ledger.events.get(i)) for i in ids]))
    """
)


class RecordingLedger(Ledger):
    """Keeps each event as it was created, before it reached the store."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[Any] = []

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        self.written += [r.domain_event for r in recordings]
        return recordings


def read_in_new_process(db_url: str, job_ids: Sequence[UUID]) -> list[list[JobEvent]]:
    done = subprocess.run(
        [sys.executable, "-c", READ_IN_ANOTHER_PROCESS, db_url, *map(str, job_ids)],
        capture_output=True,
        check=True,
    )
    events: list[list[JobEvent]] = pickle.loads(done.stdout)
    return events


def test_every_event_type_round_trips_exactly_through_sqlite_in_a_new_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    clock = MovableClock()
    env = SQLiteBackend(path).persistence_env(Settings())
    ledger = RecordingLedger(env, price_book=load_price_book(), clock=clock)
    job_ids = write_every_event(ledger, clock.advance)
    originals = [e for e in ledger.written if isinstance(e, JobEvent)]
    assert {type(e) for e in originals} == set(EVENT_TYPES)

    reread = [e for history in read_in_new_process(f"sqlite:///{path}", job_ids) for e in history]

    assert sorted(reread, key=repr) == sorted(originals, key=repr)
    for before, after in zip(sorted(originals, key=repr), sorted(reread, key=repr), strict=True):
        assert repr(before) == repr(after)  # same types and scale, not merely equal
        assert after.timestamp.tzinfo is not None
        assert after.timestamp.utcoffset() == UTC.utcoffset(None)
        assert isinstance(after.originator_id, UUID)


def test_money_comes_back_as_decimal_with_its_scale(tmp_path: Path) -> None:
    clock = MovableClock()
    ledger = build_ledger(Settings(db=f"sqlite:///{tmp_path / 'l.db'}"), clock=clock)
    job_ids = write_every_event(ledger, clock.advance)
    usages = [e for e in ledger.job_events(job_ids[0]) if isinstance(e, UsageRecorded)]
    priced, unpriced = usages
    assert isinstance(priced.cost, Decimal)
    assert (
        priced.cost
        == (1234 * Decimal("2.50") + 56 * Decimal("10.00") + 7 * Decimal("1.25")) / 10**6
    )
    assert priced.input_per_million == Decimal("2.50")
    assert priced.price_book_version == "2026-11-01"
    assert unpriced.cost is None
    assert ledger.get(job_ids[0]).unpriced_usage is True


def test_the_database_file_is_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    assert not path.exists()
    build_ledger(Settings(db=f"sqlite:///{path}")).close()
    assert path.exists()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing-folder/x.db", "does not exist"),
        ("a-file/x.db", "is not a folder"),
        (".", "is a directory"),
    ],
)
def test_a_path_that_cannot_hold_a_database_is_one_clear_error(
    tmp_path: Path, where: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreUnavailable, match=message):
        build_ledger(Settings(db=f"sqlite:///{tmp_path / where}"))
