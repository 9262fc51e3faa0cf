"""Where an API process learns that the read models reached a change.

``Projecting``: the process runs the projection runner itself, in a thread, and
hears of each batch directly (also passing it on, e.g. as a PostgreSQL NOTIFY
for other API processes). ``Listening``: another process projects, and a
listener relays what it announces. Either way the feed wakes the waiters.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

from jobledger.adapters.http.feed import ChangeFeed
from jobledger.projections.runner import Listener, ProjectionRunner, Subscribe

log = logging.getLogger("jobledger.http")


class ChangeSource(ABC):
    @abstractmethod
    def start(self, feed: ChangeFeed) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def alive(self) -> bool:
        """False once it has stopped on its own, or while it cannot reach the store
        (``/readyz`` reports it)."""


class Projecting(ChangeSource):
    """Runs the projection runner in a thread of this process."""

    def __init__(
        self, runner: ProjectionRunner, subscribe: Subscribe, announce: Listener | None = None
    ) -> None:
        self.runner = runner
        self.subscribe = subscribe
        self.announce = announce
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Listener] = []

    def start(self, feed: ChangeFeed) -> None:
        feed.position = self.runner.position()
        self._listeners = [feed.publish, *([self.announce] if self.announce else [])]
        self.runner.listeners.extend(self._listeners)
        self._thread = threading.Thread(target=self._follow, name="projections", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            self.runner.follow(self.subscribe, self._stop)
        except Exception:  # reported by /readyz; the API keeps answering from what is there
            log.exception("the projection runner stopped")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for listener in self._listeners:
            self.runner.listeners.remove(listener)

    def alive(self) -> bool:
        running = self._thread is not None and self._thread.is_alive()
        return running and not self.runner.interrupted


Relay = Callable[[set[str] | None, int], None]


class Listening(ChangeSource):
    """Relays another process's announcements, heard by ``listen`` in a thread."""

    def __init__(
        self,
        listen: Callable[[Relay, threading.Event], None],
        position: Callable[[], int],
    ) -> None:
        self.listen = listen
        self.position = position
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, feed: ChangeFeed) -> None:
        feed.position = self.position()
        self._thread = threading.Thread(
            target=self._listen, args=(feed,), name="change-listener", daemon=True
        )
        self._thread.start()

    def _listen(self, feed: ChangeFeed) -> None:
        try:
            self.listen(feed.publish_changes, self._stop)
        except Exception:
            log.exception("the change listener stopped")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
