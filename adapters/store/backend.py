"""The port every store implements: all that differs between stores, in one object.

The composition root asks :func:`jobledger.adapters.store.backend_for` for the
backend of a URL (or :func:`~jobledger.adapters.store.backend_of` for the store an
open ledger is on) and uses what it gets; nothing outside ``adapters/store/`` asks
which store it runs on. A new store is one new folder whose package exports
``Backend``.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.adapters.store.sql.read_store import ReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelWriter
from jobledger.adapters.sweeper import SweepLock
from jobledger.domain.ledger import Ledger
from jobledger.projections.runner import BatchSubscription, Listener

# What an API process that does not project runs to hear that the read models moved:
# it relays (changed job ids or None for "any", position) until the event is set.
Relay = Callable[[set[str] | None, int], None]
ListenForProjections = Callable[[Relay, threading.Event], None]


class OnlySweeper:
    """The sweep lock of a store that one process serves: always held."""

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class StoreBackend(ABC):
    """Everything store-specific, for one store location."""

    schemes: ClassVar[tuple[str, ...]]  # the URL prefixes this store answers to
    example: ClassVar[str]  # a URL of this store, for error messages
    errors: ClassVar[tuple[type[BaseException], ...]]  # what its drivers raise
    # What its drivers raise while it is busy or out of reach: a 503 to retry, not a 500.
    busy_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # Whether API processes may leave the read models to another process (``project``).
    shares_read_models: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings) -> StoreBackend:
        """The backend a ``JOBLEDGER_DB`` URL names; ConfigurationError when malformed."""

    @classmethod
    @abstractmethod
    def of_ledger(cls, ledger: Ledger) -> StoreBackend | None:
        """The backend of an open ledger, if the ledger is on this store."""

    @abstractmethod
    def __str__(self) -> str:
        """Where the store is, fit to print (no password)."""

    @abstractmethod
    def persistence_env(self, settings: Settings) -> dict[str, str]:
        """eventsourcing's persistence settings for a ledger on this store."""

    @abstractmethod
    def prepare(self, *, create: bool) -> None:
        """Make ready to open a ledger; ``create=False`` refuses a store with none yet
        (StoreUnavailable), so a mistyped location is an error, not an empty ledger."""

    def creating_tables(self) -> AbstractContextManager[None]:
        """Held while tables are created, for stores where processes race to do it."""
        return contextlib.nullcontext()

    @abstractmethod
    def read_model_writer(self, ledger: Ledger) -> SqlReadModelWriter:
        """The read models' tables, in the ledger's own database."""

    @abstractmethod
    def subscription(self, ledger: Ledger, after: int) -> BatchSubscription:
        """The ledger's notifications past ``after``, woken by new commits."""

    @abstractmethod
    def read_pool(self, size: int) -> ReadStorePool:
        """Async read stores over the read models."""

    def announcer(self) -> Listener | None:
        """How a projection runner tells API processes elsewhere that it moved; None
        where every API process projects for itself."""
        return None

    def projections_elsewhere(self) -> Callable[[Callable[[], int]], ListenForProjections] | None:
        """How an API process hears another process's projections, given how to read
        the reached position; None where the store cannot share its read models."""
        return None

    def sweep_lock(self) -> SweepLock:
        """Who may sweep expired leases: by default this process alone."""
        return OnlySweeper()

    @abstractmethod
    def audit_log(self, ledger: Ledger) -> SqlAuditLog:
        """The ledger's log as auditors read it: events, leaf records, checkpoints."""

    @abstractmethod
    def dev_key_path(self, state_dir: Path) -> Path:
        """Where the development signing key of this ledger lives."""

    def describe_error(self, error: BaseException) -> str:
        """One line for the CLI (drivers' messages may run over several)."""
        return " ".join(str(error).split())
