"""The readiness check's reads of the event store, kept off the shared thread pool.

A store that hangs (a server restarting, a network gone quiet) holds the thread that
asked it until the driver gives up. Probes come every few seconds, so on the thread
pool every request shares they could fill it and stall the API; here they hold one
thread of their own, and a probe that comes while the last one still waits is
answered at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class StillWaiting(Exception):
    """The previous check has not come back from the store yet."""


class ReadinessProbe:
    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._last: Future[int] | None = None

    async def read(self, read: Callable[[], int], timeout: float) -> int:
        """``read()`` in the probe's own thread, waiting at most ``timeout`` seconds."""
        if self._last is not None and not self._last.done():
            raise StillWaiting
        self._last = self._thread.submit(read)
        async with asyncio.timeout(timeout):
            return await asyncio.wrap_future(self._last)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
