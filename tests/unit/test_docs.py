"""Generated docs match the code they are generated from."""

from __future__ import annotations

from jobledger.adapters import docs
from jobledger.domain.events import EVENT_TYPES, JobEvent


def test_committed_generated_docs_match_the_code() -> None:
    for name, render in docs.GENERATED.items():
        committed = (docs.DOCS / name).read_text()
        assert committed == render(), f"docs/{name} drifted from the code: run `make docs`"


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
