"""Generated docs match the code they are generated from."""

from __future__ import annotations

from jobledger.adapters import docs


def test_committed_generated_docs_match_the_code() -> None:
    for name, render in docs.GENERATED.items():
        committed = (docs.DOCS / name).read_text()
        assert committed == render(), f"docs/{name} drifted from the code: run `make docs`"


def test_every_event_field_is_described() -> None:
    text = docs.events_doc()
    from jobledger.domain.events import EVENT_TYPES

    for event in EVENT_TYPES:
        assert f"## {event.__name__}" in text
