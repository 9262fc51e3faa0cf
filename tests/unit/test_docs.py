"""Generated docs match the code they are generated from."""

from __future__ import annotations

from jobledger.adapters.tools import docs
from jobledger.domain.events import EVENT_TYPES, JobEvent


def test_committed_generated_docs_match_the_code() -> None:
    for name, text in docs.rendered().items():
        committed = (docs.DOCS / name).read_text()
        assert committed == text, f"docs/{name} drifted from the code: run `make docs`"


def all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= all_subclasses(sub)
    return found


def test_the_catalogue_lists_every_event_class_there_is() -> None:
    text = docs.events_doc()
    for event in all_subclasses(JobEvent):
        assert event in EVENT_TYPES, f"{event.__name__} is missing from EVENT_TYPES"
        assert f"## {event.__name__}" in text


def test_the_database_has_exactly_the_documented_columns(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    from jobledger.adapters.bootstrap import build_ledger, build_runner
    from jobledger.adapters.settings import Settings
    from jobledger.projections.schema import ALL_TABLES

    path = Path(str(tmp_path)) / "l.db"
    ledger = build_ledger(Settings(db=f"sqlite:///{path}"))
    build_runner(ledger)
    with sqlite3.connect(path) as db:
        for table in ALL_TABLES:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table.name})")]
            assert columns == list(table.column_names)
            assert f"`{table.name}`" in (docs.DOCS / "projections.md").read_text()
    ledger.close()
