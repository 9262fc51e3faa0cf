"""Batch projections: fold many events in memory, then write rows and position at once.

A projection is an eventsourcing ``Projection`` over a view (a tracking recorder).
``process_batch`` prefetches the rows its events touch, applies every event to
them in memory, and hands the changed rows and the batch's tracking position to
the view, which writes both in one transaction: a crash anywhere neither loses
nor double-counts an event, and a repeated position is refused by the view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from jobledger.domain.events import EVENT_TYPES, JobEvent
from jobledger.projections.schema import Table

Row = dict[str, Any]
Key = tuple[Any, ...]
Commit = tuple[Mapping[Table, Iterable[Row]], Tracking, int | None]


class PositionMoved(IntegrityError):
    """Another runner moved the projection's position since this batch was folded."""


class ReadModelView(TrackingRecorder, ABC):
    """Where a projection's rows live, beside its tracking position."""

    @abstractmethod
    def fetch(self, table: Table, keys: Collection[Key]) -> dict[Key, Row]:
        """The stored rows with these primary keys (absent keys are left out)."""

    def commit(
        self,
        changes: Mapping[Table, Iterable[Row]],
        tracking: Tracking,
        previous: int | None = None,
    ) -> None:
        """Upsert the rows and move the position, in one transaction.

        With ``previous`` (the position the rows were folded from), the position
        moves only from there, else ``PositionMoved`` aborts: someone else wrote
        in between. Without it, a position not past the recorded one aborts.
        """
        self.commit_together([(changes, tracking, previous)])

    @abstractmethod
    def commit_together(self, batches: Sequence[Commit]) -> None:
        """Several projections' batches in one transaction: all land, or none."""

    @abstractmethod
    def reset(self, tables: Iterable[Table], tracking_name: str) -> None:
        """Delete the rows and forget the position, in one transaction."""


@dataclass(frozen=True)
class Positioned:
    """An event, its position in the ledger's log, and its job's id as text."""

    event: JobEvent
    position: int
    job_id: str = ""

    @classmethod
    def of(cls, event: JobEvent, position: int) -> Positioned:
        return cls(event, position, str(event.originator_id))


class Batch:
    """The rows a batch of events touches, prefetched, then changed in memory."""

    def __init__(self, view: ReadModelView, tables: Iterable[Table]) -> None:
        self._view = view
        # Every key looked up, with its row, or None when the store had none.
        self._rows: dict[Table, dict[Key, Row | None]] = {table: {} for table in tables}
        self._changed: dict[Table, dict[Key, Row]] = {table: {} for table in tables}

    def prefetch(self, wanted: Mapping[Table, Collection[Key]]) -> None:
        """Load many rows in one query per table, before folding."""
        for table, keys in wanted.items():
            rows = self._rows[table]
            missing = [k for k in keys if k not in rows]
            if missing:
                found = self._view.fetch(table, missing)
                for key in missing:
                    rows[key] = found.get(key)

    def get(self, table: Table, key: Key) -> Row | None:
        """A row by key; one not prefetched is looked up on its own."""
        rows = self._rows[table]
        if key not in rows:
            self.prefetch({table: [key]})
        return rows[key]

    def get_or_add(self, table: Table, key: Key, defaults: Mapping[str, Any]) -> Row:
        row = self.get(table, key)
        if row is None:
            row = {**dict(zip(table.key, key, strict=True)), **defaults}
        return self.put(table, row)

    def put(self, table: Table, row: Row) -> Row:
        key = table.key_of(row)
        self._rows[table][key] = row
        self._changed[table][key] = row
        return row

    def tally(self, table: Table, key: Key, fixed: Mapping[str, Any]) -> Row:
        """The row of what this batch adds to a stored row's counters (``table.counters``,
        from 0): the store adds them up, so the stored row is never read."""
        row = self._changed[table].get(key)
        if row is None:
            row = {**dict(zip(table.key, key, strict=True)), **fixed}
            row.update(dict.fromkeys(table.counters, 0))
            self._changed[table][key] = row
        return row

    def changes(self) -> dict[Table, list[Row]]:
        return {table: list(rows.values()) for table, rows in self._changed.items() if rows}


class BatchProjection(Projection[ReadModelView], ABC):
    """A read model built from job events, a batch at a time."""

    tables: ClassVar[tuple[Table, ...]]
    handles: ClassVar[tuple[type[JobEvent], ...]]
    # Raised when a fix changes the rows the same events give: a store built by an older
    # version is dropped and rebuilt when a process opens it (its rows would be wrong).
    version: ClassVar[int] = 1

    @property
    def tracking_name(self) -> str:
        """Each projection keeps its own position, under its own name."""
        return self.name

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """eventsourcing's per-event interface: a batch of one."""
        if isinstance(domain_event, JobEvent):
            positioned = [Positioned.of(domain_event, tracking.notification_id)]
        else:
            positioned = []
        self.process_batch(positioned, Tracking(self.tracking_name, tracking.notification_id))

    def process_batch(
        self, events: Sequence[Positioned], tracking: Tracking, previous: int | None = None
    ) -> None:
        self.view.commit(self.fold(events), tracking, previous)

    def fold(self, events: Sequence[Positioned]) -> dict[Table, list[Row]]:
        """The rows these events change, computed in memory; nothing is written."""
        handled = self.handled_types()
        return self.fold_handled([p for p in events if type(p.event) in handled])

    def fold_handled(self, events: Sequence[Positioned]) -> dict[Table, list[Row]]:
        """``fold``, of events all of ``handled_types`` (the runner sorts them out)."""
        batch = Batch(self.view, self.tables)
        batch.prefetch(self.keys(events))
        self.prepare(events, batch)
        apply = self.apply
        for positioned in events:
            apply(positioned, batch)
        return batch.changes()

    @classmethod
    @cache
    def handled_types(cls) -> frozenset[type[JobEvent]]:
        """The event classes ``handles`` covers, for a set lookup per event (an
        ``isinstance`` against the tuple was a twentieth of a catch-up)."""
        return frozenset(t for t in EVENT_TYPES if issubclass(t, cls.handles))

    @abstractmethod
    def keys(self, events: Sequence[Positioned]) -> dict[Table, set[Key]]:
        """The keys of the stored rows these events need, per table."""

    def prepare(self, events: Sequence[Positioned], batch: Batch) -> None:
        """Prefetch what can only be known once the first rows are loaded."""

    @abstractmethod
    def apply(self, positioned: Positioned, batch: Batch) -> None:
        """Change the batch's rows for one event; never raises."""
