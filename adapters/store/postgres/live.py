"""Following a PostgreSQL ledger live: eventsourcing's recorder NOTIFYs after each
append (under a table lock, so positions commit in order and a follower never skips an
event committed late); followers LISTEN rather than poll."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import Notification, OperationalError
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
)
from psycopg import sql

from jobledger.adapters.store.postgres.database import one_line


class PostgresSubscription:
    """Notifications past ``gt``, in batches; waits on the recorder's NOTIFY channel.
    A lost connection raises ``OperationalError``: the runner subscribes again."""

    def __init__(self, recorder: PostgresApplicationRecorder, conninfo: str, gt: int) -> None:
        self._recorder = recorder
        self._last = gt
        self._conn = listening(conninfo, sql.Identifier(recorder.channel_name))

    def next_batch(self, limit: int, timeout: float) -> Sequence[Notification]:
        deadline = time.monotonic() + timeout
        while True:
            batch = self._recorder.select_notifications(
                start=self._last, limit=limit, inclusive_of_start=False
            )
            if batch:
                self._last = batch[-1].id
                found: Sequence[Notification] = batch
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            # A NOTIFY sent since LISTEN is queued on the connection: none is missed.
            try:
                for _ in self._conn.notifies(timeout=left, stop_after=1):
                    pass
            except psycopg.Error as error:
                raise OperationalError(f"lost the LISTEN connection: {one_line(error)}") from None

    def stop(self) -> None:
        self._conn.close()


def listening(conninfo: str, channel: sql.Identifier) -> psycopg.Connection[Any]:
    """A connection of its own that LISTENs on ``channel``; a store that cannot be
    reached raises ``OperationalError``, as the ledger's recorder does."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        raise OperationalError(f"cannot LISTEN: {one_line(error)}") from None
    try:
        conn.execute(sql.SQL("LISTEN {}").format(channel))
    except psycopg.Error as error:
        conn.close()
        raise OperationalError(f"cannot LISTEN: {one_line(error)}") from None
    return conn
