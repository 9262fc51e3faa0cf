"""The audit tables beside the events, written the same way on SQLite and PostgreSQL.

``event_hashes`` holds one leaf record per event, written by the recorder in the
transaction that stores the event (see ``domain/audit/leaves.py``); ``checkpoints``
holds the signed tree heads. Both are append-only, like the events: each store's
folder adds the triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from jobledger.adapters.store.sql.writer import Dialect
from jobledger.domain.audit.leaves import LeafRecord, StoredRecord, chain

HASHES = "event_hashes"
CHECKPOINTS = "checkpoints"
BLOCKS = "merkle_blocks"  # a cache: the root of each complete block of BLOCK leaves
BLOCK = 1024
NODES = "merkle_nodes"  # a cache: the root of each aligned perfect subtree above a block


@dataclass(frozen=True)
class AuditTables:
    """The audit tables' SQL in one store's dialect."""

    dialect: Dialect
    blob: str  # the column type of bytes
    events: str  # the events table
    position: str  # its column of notification ids
    stored_id: Callable[[UUID], Any]  # an aggregate id as the events table holds it
    after_import: str = ""  # what the store runs after events were inserted at given positions

    def create_statements(self) -> list[str]:
        d, blob = self.dialect, self.blob
        return [
            f"CREATE TABLE IF NOT EXISTS {d.name(HASHES)} ("
            "leaf_index BIGINT NOT NULL PRIMARY KEY, "
            "position BIGINT NOT NULL UNIQUE, "
            "originator_id TEXT NOT NULL, "
            "originator_version BIGINT NOT NULL, "
            f"previous {blob} NOT NULL, "
            f"leaf {blob} NOT NULL, "
            "UNIQUE (originator_id, originator_version))",
            f"CREATE TABLE IF NOT EXISTS {d.name(CHECKPOINTS)} ("
            "tree_size BIGINT NOT NULL PRIMARY KEY, "
            f"root {blob} NOT NULL, "
            "taken_at TEXT NOT NULL, "
            "key_id TEXT NOT NULL, "
            f"signature {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {d.name(BLOCKS)} ("
            f"block_index BIGINT NOT NULL PRIMARY KEY, root {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {d.name(NODES)} (height BIGINT NOT NULL, "
            f"node_index BIGINT NOT NULL, root {blob} NOT NULL, PRIMARY KEY (height, node_index))",
        ]

    @property
    def append_only(self) -> tuple[str, ...]:
        """The tables no one may change or delete from."""
        return (self.events, HASHES, CHECKPOINTS)

    def insert_leaves_statement(self) -> str:
        marks = ", ".join([self.dialect.mark] * 6)
        return (
            f"INSERT INTO {self.dialect.name(HASHES)} (leaf_index, position, originator_id, "
            f"originator_version, previous, leaf) VALUES ({marks})"
        )

    def record(self, cursor: Any, events: Sequence[StoredEvent], positions: Sequence[int]) -> None:
        """Write the leaf records of events just inserted at ``positions``, in the
        inserting transaction (which holds the store's write lock, so leaf indexes and
        chains are assigned in commit order)."""
        d, m = self.dialect, self.dialect.mark
        cursor.execute(f"SELECT MAX(leaf_index) AS top FROM {d.name(HASHES)}")
        top = cursor.fetchone()["top"]
        records = [
            StoredRecord(p, str(e.originator_id), e.originator_version, e.topic, e.state)
            for e, p in zip(events, positions, strict=True)
        ]
        previous: dict[str, bytes] = {}
        for record in records:
            if record.originator_id in previous or record.version <= 1:
                continue
            cursor.execute(
                f"SELECT leaf FROM {d.name(HASHES)} "
                f"WHERE originator_id = {m} AND originator_version = {m}",
                (record.originator_id, record.version - 1),
            )
            row = cursor.fetchone()
            if row is not None:
                previous[record.originator_id] = bytes(row["leaf"])
        leaves = chain(records, 0 if top is None else top + 1, previous)
        cursor.executemany(self.insert_leaves_statement(), [_params(r) for r in leaves])

    def backfill(self, cursor: Any, batch: int = 1_000) -> int:
        """Hash the events a ledger stored before it kept hashes (an older release), in
        log order; the count hashed. Run where tables are created, under its lock."""
        d, m = self.dialect, self.dialect.mark
        cursor.execute(f"SELECT MAX(position) AS top FROM {d.name(HASHES)}")
        after = cursor.fetchone()["top"] or 0
        hashed = 0
        while True:
            cursor.execute(
                f"SELECT {self.position} AS position, originator_id, originator_version, "
                f"topic, state FROM {d.name(self.events)} WHERE {self.position} > {m} "
                f"ORDER BY {self.position} LIMIT {m}",
                (after, batch),
            )
            rows = cursor.fetchall()
            if not rows:
                return hashed
            events = [
                StoredEvent(
                    UUID(str(r["originator_id"])),
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                for r in rows
            ]
            self.record(cursor, events, [r["position"] for r in rows])
            hashed += len(rows)
            after = rows[-1]["position"]


def _params(r: LeafRecord) -> tuple[Any, ...]:
    return (r.index, r.position, r.originator_id, r.version, r.previous, r.leaf)
