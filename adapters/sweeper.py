"""The lease sweeper: records the expiry of every lease whose deadline has passed.

Candidates come from the job summaries (``lease_expires_at``), and for the tasks of
jobs of tasks from the tasks read model (an expired task times out); the Job decides
what an expiry means: back to the queue for another attempt, failed with
``lease_expired`` on the last one, or cancelled when a cancel was asked and never
acknowledged. A stale read model is harmless: the Job refuses a lease that still
runs, or a job that has moved on. Only one sweeper acts at a time: on PostgreSQL
the holder of an advisory lock, on SQLite the one process that serves.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from jobledger.adapters.store.sql.writer import SqlReadModelWriter
from jobledger.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobNotFound,
    LeaseMismatch,
)
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor
from jobledger.projections.outage import Outage

log = logging.getLogger("jobledger.sweeper")
SWEEPER = "jobledger-sweeper"  # the actor its events record
BATCH = 500


class SweepLock(Protocol):
    def held(self) -> bool:
        """Whether this process may sweep now (taking the lock if it is free)."""

    def release(self) -> None: ...


class LeaseSweeper:
    def __init__(
        self, ledger: Ledger, view: SqlReadModelWriter, lock: SweepLock, interval: float = 5.0
    ) -> None:
        self.ledger = ledger
        self.view = view
        self.lock = lock
        self.interval = interval

    def sweep(self) -> int:
        """Record the expiry of every lease past its deadline now; how many were."""
        expired = 0
        for job_id, tenant in self.view.expired_leases(self.ledger.clock(), BATCH):
            try:
                self.ledger.expire_lease(Actor(SWEEPER, tenant), UUID(job_id))
            except (InvalidCommand, IllegalTransition, LeaseMismatch, JobNotFound):
                continue  # renewed or moved on since the read model saw it
            except ConcurrencyConflict:
                continue  # a worker wrote first: the next sweep looks again
            expired += 1
        return expired + self.sweep_tasks()

    def sweep_tasks(self) -> int:
        """Time out every executing task whose lease ran out (from the tasks read model)."""
        expired = 0
        for job_id, task_id, tenant in self.view.expired_task_leases(self.ledger.clock(), BATCH):
            try:
                self.ledger.tasks.expire_lease(Actor(SWEEPER, tenant), UUID(job_id), task_id)
            except (InvalidCommand, IllegalTransition, JobNotFound, ConcurrencyConflict):
                continue  # renewed, finished or cancelled since the read model saw it
            expired += 1
        return expired

    def run(self, stop: threading.Event) -> None:
        """Sweep every ``interval`` seconds while holding the lock, until ``stop``. A sweep
        that fails is tried again, never given up: leases would otherwise never lapse."""
        outage = Outage("the lease sweeper", log)
        try:
            while not stop.is_set():
                try:
                    if self.lock.held() and (count := self.sweep()):
                        log.info("expired %d lease(s)", count)
                except PersistenceError as error:  # the store was busy or away
                    outage.failed(error)  # logs once an outage; the interval paces retries
                except Exception:
                    log.exception("sweep failed; trying again in %g s", self.interval)
                else:
                    outage.ended()
                stop.wait(self.interval)
        finally:
            self.lock.release()

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="sweeper", daemon=True)
        thread.start()
        return thread
