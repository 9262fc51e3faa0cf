"""Run projections over the ledger's log, a batch at a time, exactly once.

Each batch of notifications is read and decoded once, then every projection
gets the events past its own position and commits its rows with the batch's
last position in one transaction. Projections keep separate positions, so one
can be rebuilt while the others stay current.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
    Tracking,
)
from eventsourcing.utils import get_topic

from jobledger.domain.errors import InvalidCommand
from jobledger.domain.events import EVENT_TYPES, JobEvent
from jobledger.projections.base import (
    BatchProjection,
    Positioned,
    PositionMoved,
    ReadModelView,
    Row,
)
from jobledger.projections.collector import collector_paused
from jobledger.projections.decoding import EventDecoder
from jobledger.projections.outage import Outage
from jobledger.projections.schema import Table

log = logging.getLogger("jobledger.projections")
JOB_EVENT_TOPICS = frozenset(get_topic(t) for t in EVENT_TYPES)
# Per batch: one read per table, one transaction and one fsync; 5,000 events made
# catch-up about a fifth faster than 1,000, at a few megabytes of memory.
BATCH_SIZE = 5000


class BatchSubscription(Protocol):
    """A live feed of notifications, handed out in batches. Subscribing, or waiting for
    the next batch, raises ``OperationalError`` when the store's connection is lost."""

    def next_batch(self, limit: int, timeout: float) -> Sequence[Notification]:
        """What has been recorded past the last batch; empty if nothing came in time."""

    def stop(self) -> None: ...


Subscribe = Callable[[int], BatchSubscription]
# Told after each batch is committed: its job events and the position every projection reached.
Listener = Callable[[Sequence[Positioned], int], None]


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    ledger_position: int

    @property
    def lag(self) -> int:
        return max(self.ledger_position - self.position, 0)


class ProjectionRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        projections: Sequence[BatchProjection],
        *,
        batch_size: int = BATCH_SIZE,
        owner: object = None,
    ) -> None:
        # The application that owns the recorder closes it when collected: hold on to it.
        self.owner = owner
        self.recorder = recorder
        self.decode = EventDecoder(mapper)
        self.mapper = self.decode.mapper
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self.processed = threading.Condition()
        self.listeners: list[Listener] = []
        self._positions: dict[str, int] = {}
        self.outage = Outage("projections", log)

    def ledger_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def positions(self) -> dict[str, int]:
        return {
            p.name: p.view.max_tracking_id(p.tracking_name) or 0 for p in self.projections.values()
        }

    def status(self) -> list[ProjectionStatus]:
        end = self.ledger_position()
        return [ProjectionStatus(n, pos, end) for n, pos in self.positions().items()]

    def catch_up(
        self,
        until: int | None = None,
        on_batch: Callable[[int], Any] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Process everything up to ``until`` (default: the log's end now), or until
        ``stop`` is set."""
        target = self.ledger_position() if until is None else until
        self._positions = self.positions()
        while (start := min(self._positions.values(), default=target)) < target:
            if stop is not None and stop.is_set():
                break
            with collector_paused():
                notifications = self.recorder.select_notifications(
                    start=start, limit=self.batch_size, stop=target, inclusive_of_start=False
                )
                if not notifications:
                    break
                self._project(notifications, self._decoded(notifications))
            if on_batch is not None:
                on_batch(notifications[-1].id)
        return min(self._positions.values(), default=target)

    def process(self, notifications: Sequence[Notification]) -> None:
        """Decode a batch once and give each projection what it has not seen."""
        with collector_paused():
            self._project(notifications, self._decoded(notifications))

    def _decoded(self, notifications: Sequence[Notification]) -> list[Positioned]:
        decode = self.decode
        return [
            Positioned(decode(n), n.id, str(n.originator_id))
            for n in notifications
            if n.topic in JOB_EVENT_TOPICS
        ]

    def _project(self, notifications: Sequence[Notification], events: list[Positioned]) -> None:
        if not self._positions:
            self._positions = self.positions()
        last = notifications[-1].id
        behind = [p for p in self.projections.values() if self._positions[p.name] < last]
        routed = _route(events, {p: self._positions[p.name] for p in behind})
        folded = [(p, p.fold_handled(routed[p])) for p in behind]
        for view, group in _by_view(folded).items():
            commits = [
                (rows, Tracking(p.tracking_name, last), self._positions[p.name])
                for p, rows in group
            ]
            try:
                view.commit_together(commits)
            except PositionMoved:
                self._commit_one_by_one(group, last)
            else:
                for p, _ in group:
                    self._positions[p.name] = last
        with self.processed:
            self.processed.notify_all()
        reached = min(self._positions.values(), default=last)
        for listener in self.listeners:
            listener(events, reached)

    def _commit_one_by_one(
        self, group: list[tuple[BatchProjection, dict[Table, list[Row]]]], last: int
    ) -> None:
        """Another runner moved some positions: commit the rest, re-read those."""
        for projection, rows in group:
            tracking = Tracking(projection.tracking_name, last)
            try:
                projection.view.commit(rows, tracking, self._positions[projection.name])
            except PositionMoved:
                # Its rows were folded from a stale start: drop them, resume from where it is.
                recorded = projection.view.max_tracking_id(projection.tracking_name) or 0
                self._positions[projection.name] = recorded
            else:
                self._positions[projection.name] = last

    def follow(self, subscribe: Subscribe, stop: threading.Event, poll: float = 0.25) -> None:
        """Keep the projections current until ``stop`` is set. While the store is away
        or busy past its lock timeout, nothing is committed: wait (a growing back-off),
        then go on from the recorded positions, which are the truth."""
        while not stop.is_set():
            try:
                self._follow_live(subscribe, stop, poll)
            except (OperationalError, InterfaceError) as error:
                self._positions = {}
                stop.wait(self.outage.failed(error))

    @property
    def interrupted(self) -> bool:
        """Whether the runner is waiting for the store to come back."""
        return self.outage.ongoing

    def _follow_live(self, subscribe: Subscribe, stop: threading.Event, poll: float) -> None:
        self.catch_up(stop=stop)
        if stop.is_set():
            return
        subscription = subscribe(min(self._positions.values(), default=0))
        self.outage.ended()
        try:
            while not stop.is_set():
                batch = subscription.next_batch(self.batch_size, timeout=poll)
                if batch:
                    self._process_live(batch)
        finally:
            subscription.stop()

    def _process_live(self, batch: Sequence[Notification]) -> None:
        self.process(batch)
        if min(self._positions.values(), default=0) < batch[-1].id:
            self.catch_up(until=batch[-1].id)  # another runner moved a position

    def position(self) -> int:
        """How far every projection has got (as last processed or read)."""
        if not self._positions:
            self._positions = self.positions()
        return min(self._positions.values(), default=0)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every projection has reached ``position`` (read your writes)."""
        with self.processed:
            return self.processed.wait_for(
                lambda: min(self._positions.values(), default=0) >= position, timeout
            )

    def rebuild(self, name: str, on_batch: Callable[[int], Any] | None = None) -> int:
        """Drop one projection's rows and replay the log into it."""
        projection = self.projection(name)
        projection.view.reset(projection.tables, projection.tracking_name)
        self._positions = {}
        return self.catch_up(on_batch=on_batch)

    def projection(self, name: str) -> BatchProjection:
        try:
            return self.projections[name]
        except KeyError:
            known = ", ".join(self.projections)
            raise InvalidCommand(f"unknown projection {name!r}; known: {known}") from None


def _route(
    events: Sequence[Positioned], starts: dict[BatchProjection, int]
) -> dict[BatchProjection, list[Positioned]]:
    """One pass over the batch: each event goes to the projections that handle its type
    and have not seen it (past their start)."""
    routed: dict[BatchProjection, list[Positioned]] = {p: [] for p in starts}
    routes: dict[type[JobEvent], list[tuple[list[Positioned], int]]] = {}
    for projection, start in starts.items():
        for handled in projection.handled_types():
            routes.setdefault(handled, []).append((routed[projection], start))
    for positioned in events:
        for into, start in routes.get(type(positioned.event), ()):
            if positioned.position > start:
                into.append(positioned)
    return routed


def _by_view(
    folded: list[tuple[BatchProjection, dict[Table, list[Row]]]],
) -> dict[ReadModelView, list[tuple[BatchProjection, dict[Table, list[Row]]]]]:
    groups: dict[ReadModelView, list[tuple[BatchProjection, dict[Table, list[Row]]]]] = {}
    for projection, rows in folded:
        groups.setdefault(projection.view, []).append((projection, rows))
    return groups
