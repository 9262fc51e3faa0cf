"""Telling API processes that the read models moved: the projector NOTIFYs after each
batch, and API processes that do not project LISTEN."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg import sql

from jobledger.adapters.store.postgres.database import one_line
from jobledger.adapters.store.postgres.live import listening
from jobledger.projections.base import Positioned
from jobledger.projections.outage import Outage

log = logging.getLogger("jobledger.postgres")


def projected_channel(schema: str) -> str:
    return f"jobledger_{schema}_projected"[:63]


class ProjectedNotifier:
    """A runner listener: after each batch, NOTIFY the API processes which jobs changed
    and how far the read models reached (all jobs, when the list would not fit)."""

    MAX_PAYLOAD = 7_000  # PostgreSQL refuses payloads of 8,000 bytes or more

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.channel = projected_channel(schema)
        self._conn: psycopg.Connection[Any] | None = None

    def __call__(self, events: Sequence[Positioned], position: int) -> None:
        payload = json.dumps({"p": position, "j": sorted({p.job_id for p in events})})
        if len(payload) > self.MAX_PAYLOAD:
            payload = json.dumps({"p": position, "j": None})
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True)
            self._conn.execute("SELECT pg_notify(%s, %s)", [self.channel, payload])
        except psycopg.Error as error:  # waiters time out as usual; the next batch retries
            log.warning("could not announce position %s: %s", position, one_line(error))
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def listen_projected(
    conninfo: str, schema: str, position: Callable[[], int]
) -> Callable[[Callable[[set[str] | None, int], None], threading.Event], None]:
    """What a ``Listening`` change source runs: relays each announcement; after a lost
    connection it reconnects and wakes every waiter once (it may have missed some)."""
    channel = sql.Identifier(projected_channel(schema))

    def listen(relay: Callable[[set[str] | None, int], None], stop: threading.Event) -> None:
        outage = Outage("the change channel", log)
        while not stop.is_set():
            try:
                with listening(conninfo, channel) as conn:
                    relay(None, position())
                    outage.ended()
                    while not stop.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=100):
                            relay(*_announced(notify.payload, position))
            except (psycopg.Error, OperationalError, InterfaceError) as error:
                stop.wait(outage.failed(error))

    return listen


def _announced(payload: str, position: Callable[[], int]) -> tuple[set[str] | None, int]:
    """The jobs and position an announcement names; one that cannot be read (another
    release's, say) wakes every waiter at the position the read models have reached."""
    try:
        found = json.loads(payload)
        jobs = found["j"]
        return (None if jobs is None else {str(j) for j in jobs}), int(found["p"])
    except (ValueError, KeyError, TypeError):
        log.warning("an announcement could not be read: %.200s", payload)
        return None, position()
