"""The runner's fast path (its event decoder, one pass routing events to projections, the
collector held off) writes exactly the rows that the plain path writes: eventsourcing's
mapper decoding every event and each projection sorting out its own."""

from __future__ import annotations

import gc
import zlib
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import Mapper, MapperDeserialisationError, Notification, Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.store.sql.writer import from_sql
from jobledger.domain.events import EVENT_TYPES, JobEvent, JobStarted
from jobledger.domain.ledger import Ledger
from jobledger.projections.base import Positioned
from jobledger.projections.collector import collector_paused
from jobledger.projections.decoding import EventDecoder
from jobledger.projections.runner import JOB_EVENT_TOPICS, ProjectionRunner
from jobledger.projections.schema import COST_TOOL_CALLS, STATUS_HISTORY
from tests.conftest import STORES, MovableClock, fresh_store, select
from tests.integration.history_of_every_event import write_every_event
from tests.integration.test_projections_property import drive, dump

EXAMPLES = {"sqlite": 25, "postgres": 5}


def same_event(decoded: Any, expected: Any) -> None:
    assert type(decoded) is type(expected)
    assert repr(vars(decoded)) == repr(vars(expected))  # same values, types and scale


def test_every_event_type_decodes_as_the_mapper_decodes_it(
    ledger: Ledger, clock: MovableClock
) -> None:
    write_every_event(ledger, clock.advance)
    notifications = ledger.recorder.select_notifications(start=0, limit=1000)
    decode = EventDecoder(ledger.mapper)
    for notification in notifications:
        same_event(decode(notification), ledger.mapper.to_domain_event(notification))
    kinds = {type(decode(n)) for n in notifications if n.topic in JOB_EVENT_TOPICS}
    assert kinds == set(EVENT_TYPES)


def stored_like(notification: Notification, state: bytes) -> Notification:
    return Notification(
        id=notification.id,
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=state,
    )


def test_an_event_stored_before_its_newest_version_is_upcast_as_the_mapper_upcasts_it(
    ledger: Ledger, clock: MovableClock
) -> None:
    write_every_event(ledger, clock.advance)
    started = next(
        n
        for n in ledger.recorder.select_notifications(start=0, limit=1000)
        if n.topic.endswith(":JobStarted")
    )
    version_1 = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-01T09:00:00+00:00"},'
    version_1 += b'"actor":"w","tenant":"acme","correlation_id":"c"}'
    old = stored_like(started, version_1)
    decoded = EventDecoder(ledger.mapper)(old)
    same_event(decoded, ledger.mapper.to_domain_event(old))
    assert isinstance(decoded, JobStarted)
    assert decoded.lease_expires_at is None


def test_a_state_that_cannot_be_read_fails_with_the_mappers_error(
    ledger: Ledger, clock: MovableClock
) -> None:
    write_every_event(ledger, clock.advance)
    first = ledger.recorder.select_notifications(start=0, limit=1)[0]
    broken = stored_like(first, b'{"timestamp": ')
    errors = []
    for decode in (ledger.mapper.to_domain_event, EventDecoder(ledger.mapper)):
        with pytest.raises(MapperDeserialisationError) as raised:
            decode(broken)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]


def test_a_compressing_mapper_decodes_as_it_always_did(ledger: Ledger, clock: MovableClock) -> None:
    write_every_event(ledger, clock.advance)
    compressing = Mapper[UUID](ledger.mapper.transcoder, compressor=ZlibCompressor())
    for notification in ledger.recorder.select_notifications(start=0, limit=1000):
        compressed = stored_like(notification, zlib.compress(notification.state))
        expected = ledger.mapper.to_domain_event(notification)
        same_event(EventDecoder(compressing)(compressed), expected)


def test_the_collector_resumes_after_a_batch_unless_it_was_off_before() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it off: the outer one turns it on
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def plain_catch_up(ledger: Ledger, runner: ProjectionRunner, batch_size: int) -> None:
    """The reference: the mapper decodes, each projection folds the whole batch."""
    position = 0
    while batch := ledger.recorder.select_notifications(
        start=position, limit=batch_size, inclusive_of_start=False
    ):
        events = []
        for notification in batch:
            if notification.topic in JOB_EVENT_TOPICS:
                event = ledger.mapper.to_domain_event(notification)
                assert isinstance(event, JobEvent)
                events.append(Positioned.of(event, notification.id))
        position = batch[-1].id
        for projection in runner.projections.values():
            rows = projection.fold(events)
            projection.view.commit(rows, Tracking(projection.tracking_name, position))


@pytest.mark.parametrize("kind", STORES)
def test_the_fast_path_writes_the_rows_the_plain_path_writes(kind: str) -> None:
    @settings(
        max_examples=EXAMPLES[kind],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def agree(data: Any) -> None:
        with fresh_store(kind) as store:
            clock = MovableClock()
            ledger = build_ledger(store, clock=clock)
            ledger.draw = lambda: 0.5
            runner = build_runner(ledger)
            runner.batch_size = data.draw(st.sampled_from([1, 5, 40, 5000]), label="batch size")
            write_every_event(ledger, clock.advance)
            drive(ledger, clock, data, runner.catch_up)
            runner.catch_up()
            fast = dump(ledger)
            for projection in runner.projections.values():
                projection.view.reset(projection.tables, projection.tracking_name)
            plain_catch_up(ledger, runner, runner.batch_size)
            assert dump(ledger) == fast
            ledger.close()

    agree()


def test_a_row_added_again_to_a_table_of_added_rows_replaces_the_stored_one(
    ledger: Ledger, clock: MovableClock
) -> None:
    """PostgreSQL copies such rows in; one already stored makes it write the batch again
    with upserts, so every store ends as an upsert would leave it."""
    write_every_event(ledger, clock.advance)
    runner = build_runner(ledger)
    runner.catch_up()
    history = runner.projections["status_history"]
    stored = select(ledger, "SELECT * FROM status_history ORDER BY job_id, version LIMIT 1")[0]
    again = {**from_stored(stored), "reason": "written again", "position": 10**6}
    new = {**again, "version": 10**6, "reason": "added"}
    position = runner.positions()["status_history"]
    tracking = Tracking(history.tracking_name, position + 1)
    history.view.commit({STATUS_HISTORY: [again, new]}, tracking, position)
    rows = select(
        ledger,
        f"SELECT version, reason FROM status_history WHERE job_id = '{stored['job_id']}'"
        f" AND version IN ({stored['version']}, {10**6}) ORDER BY version",
    )
    assert rows == [
        {"version": stored["version"], "reason": "written again"},
        {"version": 10**6, "reason": "added"},
    ]
    assert runner.positions()["status_history"] == position + 1


def from_stored(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as a projection holds it (typed values, not their text)."""
    kinds = {c.name: c.type for c in STATUS_HISTORY.columns}
    return {name: from_sql(kinds[name], value) for name, value in row.items()}


def test_a_fraction_in_an_integer_column_of_added_rows_is_stored_as_an_upsert_stores_it(
    ledger: Ledger, clock: MovableClock
) -> None:
    """``COPY`` refuses the text of a fraction for an integer column where a parameter is
    rounded: such a batch is written again with upserts, not left failing for ever."""
    write_every_event(ledger, clock.advance)
    runner = build_runner(ledger)
    runner.catch_up()
    ledger_view = runner.projections["cost_ledger"]
    call = {
        "position": 10**6,
        "step": 1,
        "call": 0,
        "job_id": "j",
        "tenant": "acme",
        "tool_name": "search",
        "engine_code": None,
        "execution_ms": 2.0,  # an old event's fraction: today's steps hold integers
        "success": True,
    }
    position = runner.positions()["cost_ledger"]
    tracking = Tracking(ledger_view.tracking_name, position + 1)
    ledger_view.view.commit({COST_TOOL_CALLS: [call]}, tracking, position)
    stored = select(ledger, "SELECT execution_ms FROM cost_tool_calls WHERE job_id = 'j'")
    assert [row["execution_ms"] for row in stored] == [2]
    assert runner.positions()["cost_ledger"] == position + 1
