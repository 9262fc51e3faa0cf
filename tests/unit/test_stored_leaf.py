"""``stored_leaf``, the hash ``audit verify`` computes per event, is the leaf the
canonical encoding defines, for any event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.domain.audit.leaves import StoredRecord, event_leaf, stored_leaf

records = st.builds(
    StoredRecord,
    position=st.integers(0, 2**64 - 1),
    originator_id=st.uuids().map(str) | st.text(max_size=40),
    version=st.integers(0, 2**64 - 1),
    topic=st.text(max_size=60),
    state=st.binary(max_size=300),
)


@settings(max_examples=60)
@given(record=records, previous=st.binary(min_size=32, max_size=32))
def test_stored_leaf_is_the_encodings_leaf(record: StoredRecord, previous: bytes) -> None:
    assert stored_leaf(
        record.position, record.originator_id, record.version, record.topic, record.state, previous
    ) == event_leaf(record, previous)
