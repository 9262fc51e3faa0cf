"""The PostgreSQL recorder: leaf records in each event's transaction (``hashes.py``),
with the saves of concurrent commands grouped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from jobledger.adapters.store.postgres.hashes import HashingPostgresApplicationRecorder
from jobledger.adapters.store.sql.group_commit import GroupCommit


class GroupCommittingPostgresRecorder(HashingPostgresApplicationRecorder):
    """One transaction, one lock of the events table and one commit for the saves that
    arrive while another commits (``GroupCommit``); the group's leaf records are written
    in its one transaction, in position order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(super().insert_events)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self.group_commit.insert(stored_events, **kwargs)
