"""Noticing other processes' commits to an SQLite file, and the read models they moved.

``PRAGMA data_version`` on a connection of one's own changes whenever any other
connection commits, and reads no page of the database, so asking it every few
milliseconds costs next to nothing: it is what lets processes sharing one file
hear each other without a server to carry notifications. While the file is busy it is
asked every 5 ms; while nothing changes the pause doubles up to 100 ms, so an idle
process (and a lone ``serve``, which hears its own commits directly) hardly wakes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from jobledger.adapters.store.backend import ListenForProjections, Relay
from jobledger.projections.outage import Outage

log = logging.getLogger("jobledger.sqlite")
POLL_SECONDS = 0.005  # how often a process asks whether another one committed, when busy
IDLE_POLL_SECONDS = 0.1  # ... and at most, after nothing changed for a while
MAX_CHANGED = 1_000  # events past which a wake names no jobs (every waiter looks again)


class Commits:
    """Whether another connection committed to the file since last asked."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._version = self._read()
        self.pause = POLL_SECONDS  # until the next look: short while the file changes

    def _read(self) -> int:
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def happened(self) -> bool:
        try:
            version = self._read()
        except sqlite3.ProgrammingError:  # closed by another thread that stops: look again
            return True
        changed, self._version = version != self._version, version
        self.pause = POLL_SECONDS if changed else min(self.pause * 2, IDLE_POLL_SECONDS)
        return changed

    def changed_jobs(self, after: int, upto: int, events_table: str) -> set[str] | None:
        """The aggregates whose events lie in (after, upto]; None when there are many."""
        if upto - after > MAX_CHANGED:
            return None
        rows = self._conn.execute(
            f"SELECT DISTINCT originator_id FROM {events_table} WHERE rowid > ? AND rowid <= ?",
            (after, upto),
        ).fetchall()
        return {str(UUID(str(row[0]))) for row in rows}  # stored as hex, without dashes

    def close(self) -> None:
        self._conn.close()


def listen_projected(
    path: Path, events_table: str, reached: Callable[[], int]
) -> ListenForProjections:
    """What a ``Listening`` change source runs on SQLite: each time another process
    commits, it reads how far the read models reached, and if they moved relays the
    jobs whose events they took in. It starts (and restarts after an error) by waking
    every waiter once, since it may have missed a move."""

    def listen(relay: Relay, stop: threading.Event) -> None:
        outage = Outage(f"watching {path}", log)
        while not stop.is_set():
            try:
                commits = Commits(path)
                try:
                    last = reached()
                    relay(None, last)
                    outage.ended()
                    while not stop.wait(commits.pause):
                        if not commits.happened():
                            continue
                        now = reached()
                        if now > last:
                            relay(commits.changed_jobs(last, now, events_table), now)
                            last = now
                finally:
                    commits.close()
            except (sqlite3.Error, PersistenceError) as error:
                stop.wait(outage.failed(error))

    return listen
