"""Waking long polls and live streams when the read models reach a change.

The projection runner works in its own thread; after each committed batch it
tells the feed which jobs changed and how far the read models now reach. The
feed hands that to the event loop, which wakes exactly the waiters on those
jobs, and every stream. Waiting costs no polling of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence

from jobledger.projections.base import Positioned

EVERY_JOB = ""


class ChangeFeed:
    def __init__(self, position: int = 0) -> None:
        self.position = position
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def unbind(self) -> None:
        self._loop = None

    def publish(self, events: Sequence[Positioned], position: int) -> None:
        """Called from the runner's thread after a batch is committed."""
        self.publish_changes({p.job_id for p in events}, position)

    def publish_changes(self, changed: set[str] | None, position: int) -> None:
        """From any thread: these jobs changed (None: any may have), up to ``position``."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and now
            loop.call_soon_threadsafe(self._wake, changed, position)

    def _wake(self, changed: set[str] | None, position: int) -> None:
        self.position = max(self.position, position)
        woken = list(self._waiters) if changed is None else [*changed, EVERY_JOB]
        for job_id in woken:
            for waiter in self._waiters.get(job_id, ()):
                waiter.set()

    @contextlib.contextmanager
    def watch(self, job_id: str = EVERY_JOB) -> Iterator[asyncio.Event]:
        """An event set on the next change of ``job_id`` (or of any job). Watch first,
        then read, then wait: a change between the read and the wait is not missed."""
        waiter = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiting = self._waiters.get(job_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[job_id]

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
