"""Moving a ledger between stores: every event exactly as stored, then verified.

Events are copied in log order, a batch per transaction, so the destination's log
has the same order (its positions are its own, from 1). Command receipts are
events too, so retries stay idempotent after a move. Snapshots are caches and
are not copied; the destination makes its own as jobs grow. The read models are
rebuilt at the destination from the copied events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import Notification, StoredEvent

from jobledger.domain.errors import ConfigurationError
from jobledger.domain.ledger import Ledger

BATCH = 1_000
Progress = Callable[[int], object]


@dataclass(frozen=True)
class CopyReport:
    events: int
    verified: int


def copy_events(source: Ledger, destination: Ledger, on_batch: Progress | None = None) -> int:
    """Append the source's whole log to an empty destination; the count copied."""
    already = destination.recorder.max_notification_id() or 0
    if already:
        raise ConfigurationError(
            f"the destination already holds {already:,} log entries: copy into an empty store"
        )
    copied, position = 0, 0
    while batch := source.recorder.select_notifications(
        start=position, limit=BATCH, inclusive_of_start=False
    ):
        destination.recorder.insert_events([_stored(n) for n in batch])
        copied += len(batch)
        position = batch[-1].id
        if on_batch is not None:
            on_batch(copied)
    return copied


def verify_copy(source: Ledger, destination: Ledger, on_batch: Progress | None = None) -> int:
    """Compare both logs entry by entry (ids aside); the count that agree, or raise."""
    verified, mine, theirs = 0, 0, 0
    while True:
        ours = source.recorder.select_notifications(
            start=mine, limit=BATCH, inclusive_of_start=False
        )
        copy = destination.recorder.select_notifications(
            start=theirs, limit=BATCH, inclusive_of_start=False
        )
        if [_stored(n) for n in ours] != [_stored(n) for n in copy]:
            raise ConfigurationError(
                f"the copy differs from the source after {verified:,} matching log entries"
            )
        if not ours:
            return verified
        verified += len(ours)
        mine, theirs = ours[-1].id, copy[-1].id
        if on_batch is not None:
            on_batch(verified)


def _stored(notification: Notification) -> StoredEvent:
    return StoredEvent(
        originator_id=notification.originator_id,  # a UUID from either store
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=bytes(notification.state),
    )
