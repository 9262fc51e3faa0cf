"""The runner's faster decoder reads the stored bytes to exactly what eventsourcing reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from jobledger.adapters.bootstrap import build_runner
from jobledger.domain.ledger import Ledger
from jobledger.projections.decoding import OrjsonTranscoder, fast_mapper
from tests.conftest import MovableClock
from tests.integration.history_of_every_event import write_every_event


def standard_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    Ledger.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return transcoder


def test_every_event_type_decodes_to_what_eventsourcing_gives(
    ledger: Ledger, clock: MovableClock
) -> None:
    write_every_event(ledger, clock.advance)
    notifications = ledger.recorder.select_notifications(start=0, limit=1000)
    fast = fast_mapper(ledger.mapper)
    assert isinstance(fast.transcoder, OrjsonTranscoder)
    for notification in notifications:
        expected = ledger.mapper.to_domain_event(notification)
        decoded = fast.to_domain_event(notification)
        assert type(decoded) is type(expected)
        assert repr(vars(decoded)) == repr(vars(expected))  # same types and scale


def test_the_runner_decodes_with_the_faster_decoder(ledger: Ledger) -> None:
    assert isinstance(build_runner(ledger).mapper.transcoder, OrjsonTranscoder)


LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too, which orjson does not read
    | st.floats()  # NaN and infinities too, which orjson does not read
    | st.text()
    | st.decimals(allow_nan=False)
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))
    | st.uuids()
)
STATES = st.dictionaries(
    st.text(),
    st.recursive(
        LEAVES,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ),
)


@given(STATES)
def test_any_state_reads_back_as_the_standard_decoder_reads_it(state: dict[str, Any]) -> None:
    standard = standard_transcoder()
    try:
        stored = standard.encode(state)
    except UnicodeEncodeError:
        return  # lone surrogates: eventsourcing cannot store them either
    assert repr(OrjsonTranscoder(standard).decode(stored)) == repr(standard.decode(stored))


def test_a_state_the_standard_decoder_refuses_is_refused_the_same_way() -> None:
    standard = standard_transcoder()
    stored = b'{"a":{"_type_":"no_such_type","_data_":"x"}}'
    errors = []
    for transcoder in (standard, OrjsonTranscoder(standard)):
        try:
            transcoder.decode(stored)
        except Exception as error:  # the same error is what is asserted
            errors.append((type(error), str(error)))
    assert len(errors) == 2
    assert errors[0] == errors[1]


def test_typed_values_nested_in_lists_and_objects_are_revived() -> None:
    standard = standard_transcoder()
    state = {
        "at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "nested": [{"cost": Decimal("0.10"), "ids": [UUID(int=7)]}],
    }
    assert OrjsonTranscoder(standard).decode(standard.encode(state)) == state
