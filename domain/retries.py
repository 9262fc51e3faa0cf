"""How long a retryable failure waits before its next attempt may be claimed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with "equal jitter": the n-th failed attempt waits
    ``base * 2**(n-1)`` capped at ``max_seconds``, half of it fixed and half drawn at
    random, so workers that failed together do not all retry at the same moment."""

    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not 0 <= self.base_seconds <= self.max_seconds:
            raise ValueError("retry back-off: need 0 <= base_seconds <= max_seconds")

    def delay(self, failed_attempt: int, draw: float) -> timedelta:
        """The wait after ``failed_attempt`` (from 1), for a ``draw`` in [0, 1)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(failed_attempt - 1, 60))
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * draw)
