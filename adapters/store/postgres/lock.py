"""One sweeper at a time across processes: a session-level advisory lock."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from jobledger.projections.outage import Outage

log = logging.getLogger("jobledger.postgres")


class AdvisoryLock:
    """A session-level advisory lock, held on a connection of its own for as long as
    that connection lives (so a process that dies lets another take over). A lost
    connection loses the lock; the next ``held`` reconnects and takes it again."""

    def __init__(self, conninfo: str, key: str) -> None:
        self.conninfo = conninfo
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._outage = Outage(f"the advisory lock {key}", log)

    def held(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
                self._held = False
            if self._held:
                self._conn.execute("SELECT 1")  # still connected, so still ours
            else:
                found = self._conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))", [self.key]
                ).fetchone()
                self._held = bool(found and found[0])
            self._outage.ended()
        except psycopg.Error as error:
            self._outage.failed(error)  # the sweeper's interval paces the next attempt
            self.release()
        return self._held

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._held = False
