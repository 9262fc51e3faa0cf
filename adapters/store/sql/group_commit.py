"""Group commit: the events of commands that arrive together, stored in one transaction.

Each command's save hands its events to ``GroupCommit.insert`` and waits. While one
transaction commits, the saves that arrive queue up; the next to find the store free
stores all of them in one transaction (one fsync on SQLite, one table lock and one
commit on PostgreSQL) and tells each caller its own notification ids. A save returns
only after the transaction holding its events committed, so an answered command is
durable. If the transaction fails on a uniqueness violation (a lost race for a job's
next version, a reused command id), nothing of it was stored: each save of the group is
then tried alone, so the conflict fails only the command that caused it. Any other error
fails every save of the group, none of which was stored. With nothing else waiting, a
save is stored alone, as before, with no delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent

Insert = Callable[..., Sequence[int] | None]  # (events, **the recorder's options) -> ids


class _Save:
    """One caller's events, and what became of them."""

    __slots__ = ("done", "error", "events", "ids")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None
        self.done = False

    def settle(self) -> Sequence[int] | None:
        if self.error is not None:
            raise self.error
        return self.ids


class GroupCommit:
    """Stores concurrent saves through ``insert`` (the store's own one-transaction
    insert), grouped. ``transactions`` and ``saves`` count what it did."""

    def __init__(self, insert: Insert) -> None:
        self._insert = insert
        self._turn = threading.Condition(threading.Lock())
        self._queued: list[_Save] = []
        self._committing = False
        self.transactions = 0
        self.saves = 0

    @property
    def busy(self) -> bool:
        """A transaction is in progress."""
        with self._turn:
            return self._committing

    @property
    def queued(self) -> int:
        """Saves waiting for the transaction in progress to end."""
        with self._turn:
            return len(self._queued)

    def insert(self, events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not events or any(value is not None for value in kwargs.values()):
            return self._insert(events, **kwargs)  # nothing to group, or tracking to record
        save = _Save(events)
        with self._turn:
            self._queued.append(save)
            while self._committing and not save.done:
                self._turn.wait()
            if save.done:  # another caller's transaction held it
                return save.settle()
            self._committing = True
            group, self._queued = self._queued, []
        try:
            self._commit(group)
        finally:
            with self._turn:
                self._committing = False
                self._turn.notify_all()
        return save.settle()

    def _commit(self, group: list[_Save]) -> None:
        try:
            if len(group) == 1:
                self._alone(group[0])
                return
            self.transactions += 1
            self.saves += len(group)
            try:
                ids = self._insert([event for save in group for event in save.events])
            except IntegrityError:
                for save in group:  # nothing was stored: each on its own
                    self._alone(save)
            except Exception as error:
                for save in group:
                    save.error, save.done = error, True
            else:
                _share(group, ids)
        finally:
            for save in group:  # the committing thread was interrupted: not known stored
                if not save.done:
                    save.error, save.done = RuntimeError("the save was interrupted"), True

    def _alone(self, save: _Save) -> None:
        self.transactions += 1
        self.saves += 1
        try:
            save.ids = self._insert(save.events)
        except Exception as error:
            save.error = error
        save.done = True


def _share(group: list[_Save], ids: Sequence[int] | None) -> None:
    """Each save's notification ids, in the order its events were inserted (the ids of
    one transaction rise in insertion order)."""
    ordered = sorted(ids) if ids is not None else None
    start = 0
    for save in group:
        if ordered is not None:
            save.ids = ordered[start : start + len(save.events)]
            start += len(save.events)
        save.done = True
