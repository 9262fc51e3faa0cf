"""A store that a long-running loop cannot reach for a while (a restart, a dropped
connection, a lock held too long): when to try again, and what to log.

The wait grows with each failed attempt (capped, jittered: the ledger's one back-off
rule), so a loop never spins against a server that is down, and processes that lost
the server together do not all come back at the same moment. The log gets one line
when the outage starts and one when it ends, not one per attempt.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from jobledger.domain.retries import RetryPolicy

RECONNECT_BACKOFF = RetryPolicy(base_seconds=0.25, max_seconds=5.0)


class Outage:
    def __init__(
        self,
        what: str,
        log: logging.Logger,
        backoff: RetryPolicy = RECONNECT_BACKOFF,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.what = what
        self.log = log
        self.backoff = backoff
        self.draw = draw
        self.failures = 0
        self._since = 0.0

    @property
    def ongoing(self) -> bool:
        return self.failures > 0

    def failed(self, error: BaseException) -> float:
        """Another attempt failed: the seconds to wait before the next one."""
        self.failures += 1
        if self.failures == 1:
            self._since = time.monotonic()
            reason = " ".join(str(error).split())
            self.log.warning("%s interrupted, retrying: %s", self.what, reason)
        return self.backoff.delay(self.failures, self.draw()).total_seconds()

    def ended(self) -> None:
        """An attempt succeeded (a no-op when there was no outage)."""
        if self.failures:
            self.log.info(
                "%s resumed after %.1f s (%d failed attempts)",
                self.what,
                time.monotonic() - self._since,
                self.failures,
            )
            self.failures = 0
