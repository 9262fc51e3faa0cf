"""Taking a checkpoint every so often while ``serve`` or ``project`` runs, so that a
log always has a recent signed head even when no auditor asked for one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jobledger.adapters.audit.auditor import take_checkpoint
from jobledger.adapters.audit.signing import ledger_key
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.ledger import Ledger

log = logging.getLogger("jobledger")


class Checkpointer:
    """Every ``interval`` seconds, a checkpoint if the log grew since the last one."""

    def __init__(
        self,
        log: SqlAuditLog,
        key: Ed25519PrivateKey,
        clock: Callable[[], datetime],
        interval: float,
    ) -> None:
        self.log = log
        self.key = key
        self.clock = clock
        self.interval = interval

    def take_if_grown(self) -> Checkpoint | None:
        kept = self.log.checkpoints()
        if kept and kept[-1].tree_size >= self.log.size():
            return None
        return take_checkpoint(self.log, self.key, self.clock())

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                taken = self.take_if_grown()
            except Exception:  # the store may be away: the next round tries again
                log.exception("checkpoint failed; trying again in %g s", self.interval)
                continue
            if taken is not None:
                log.info("checkpoint of %d events: %s", taken.tree_size, taken.root.hex())

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="checkpoints", daemon=True)
        thread.start()
        return thread


def start_checkpoints(
    ledger: Ledger, settings: Settings, stop: threading.Event
) -> threading.Thread | None:
    """The periodic checkpoints the settings ask for (none when the interval is 0)."""
    if settings.checkpoint_seconds <= 0:
        return None
    key = ledger_key(settings)
    audit_log = backend_of(ledger).audit_log(ledger)
    return Checkpointer(audit_log, key, ledger.clock, settings.checkpoint_seconds).start(stop)
