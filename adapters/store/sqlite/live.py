"""Following an SQLite ledger live, which eventsourcing's SQLite recorder does not do.

The ledger's recorder signals every subscription on the same database file as
soon as it commits, so a projection in the same process wakes at once; commits
of other processes are noticed within milliseconds by watching the file's
``data_version`` (``watch.py``), which reads nothing until there is something new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent, Subscription
from eventsourcing.sqlite import SQLiteApplicationRecorder

from jobledger.adapters.store.sql.group_commit import GroupCommit
from jobledger.adapters.store.sqlite.hashes import HashingSQLiteApplicationRecorder
from jobledger.adapters.store.sqlite.watch import Commits

_listeners: dict[str, set[threading.Event]] = {}
_listeners_lock = threading.Lock()


def _listen(db_name: str, wake: threading.Event) -> None:
    with _listeners_lock:
        _listeners.setdefault(db_name, set()).add(wake)


def _stop_listening(db_name: str, wake: threading.Event) -> None:
    with _listeners_lock:
        _listeners.get(db_name, set()).discard(wake)


def _signal(db_name: str) -> None:
    with _listeners_lock:
        waiting = list(_listeners.get(db_name, ()))
    for wake in waiting:
        wake.set()


class SignallingSQLiteApplicationRecorder(HashingSQLiteApplicationRecorder):
    """The stock recorder, plus a signal to live subscriptions after each commit, with
    the saves of concurrent commands grouped into one transaction (``GroupCommit``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(self._insert_and_signal)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        return self.group_commit.insert(stored_events, **kwargs)

    def _insert_and_signal(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        ids = super().insert_events(stored_events, **kwargs)  # committed on return
        _signal(self.datastore.pool.db_name)
        return ids

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> SQLiteSubscription:
        return SQLiteSubscription(self, gt=gt, topics=topics)


class SQLiteSubscription(Subscription[SQLiteApplicationRecorder]):
    """Notifications past ``gt``, in batches, woken by commits of this process or of
    another (which ``data_version`` shows, within 5 ms while the file is busy)."""

    def __init__(
        self,
        recorder: SQLiteApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder, gt=gt, topics=topics)
        self._wake = threading.Event()
        self._db_name = recorder.datastore.pool.db_name
        self._commits = Commits(Path(self._db_name))
        _listen(self._db_name, self._wake)

    def next_batch(self, limit: int, timeout: float) -> Sequence[Notification]:
        """Up to ``limit`` new notifications; waits up to ``timeout`` for the first."""
        waited = 0.0
        while not self._has_been_stopped:
            self._wake.clear()  # before reading, so a commit during the read is not missed
            batch = self._recorder.select_notifications(
                start=self._last_notification_id or 0,
                limit=limit,
                topics=self._topics,
                inclusive_of_start=False,
            )
            if batch:
                self._last_notification_id = batch[-1].id
                return batch
            if waited >= timeout:
                break
            waited += self._await_commit(timeout - waited)
        return []

    def _await_commit(self, budget: float) -> float:
        """Until a commit of any process, or ``budget`` seconds; the seconds waited."""
        began = time.monotonic()
        while not self._has_been_stopped:
            waited = time.monotonic() - began
            if waited >= budget:
                return waited
            if self._wake.wait(min(self._commits.pause, budget - waited)):
                break
            if self._commits.happened():
                break
        return time.monotonic() - began

    def __next__(self) -> Notification:
        """eventsourcing's one-at-a-time interface, for its own projection runner."""
        while not self._has_been_stopped:
            batch = self.next_batch(1, timeout=0.25)
            if batch:
                return batch[0]
        raise StopIteration

    def stop(self) -> None:
        super().stop()
        _stop_listening(self._db_name, self._wake)
        self._wake.set()
        self._commits.close()
