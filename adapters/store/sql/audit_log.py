"""Reading the log as auditors do, in batches, the same way on SQLite and PostgreSQL:
the events and their leaf records in position order, leaves by index for proofs, and
the signed checkpoints."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from jobledger.adapters.store.sql.hashes import BLOCKS, CHECKPOINTS, HASHES, NODES, AuditTables
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.leaves import LeafRecord, StoredRecord
from jobledger.domain.audit.verification import ChainedLeaf

BATCH = 5_000
CHAIN_CACHE = 131_072  # jobs whose latest leaf a whole-log read keeps (about 25 MB at most)

# Plain rows of a whole-log read (``SqlAuditLog.batches``), as the driver returns them:
# (position, originator_id, version, topic, state) and
# (leaf_index, position, originator_id, version, previous, leaf, chain_previous).
EventRow = tuple[Any, ...]
LeafRow = tuple[Any, ...]


def as_bytes(value: Any) -> bytes:
    """Stored bytes; SQLite lets an edit leave text (or nothing) where bytes were."""
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


class SqlAuditLog:
    """The audit tables and the events of one ledger; ``datastore`` is eventsourcing's
    (its ``transaction(commit=...)`` gives a cursor whose rows read by column name)."""

    def __init__(self, tables: AuditTables, datastore: Any) -> None:
        self.tables = tables
        self.datastore = datastore
        d = tables.dialect
        self._events = d.name(tables.events)
        self._hashes = d.name(HASHES)
        self._checkpoints = d.name(CHECKPOINTS)
        self._blocks = d.name(BLOCKS)
        self._nodes = d.name(NODES)
        self._m = d.mark

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

    def _tuples(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows that unpack by position (sqlite3's rows do; psycopg's dict rows do not)."""
        rows = self._rows(statement, params)
        if rows and isinstance(rows[0], dict):
            return [tuple(r.values()) for r in rows]
        return rows

    def size(self) -> int:
        """How many leaves the tree has."""
        row = self._rows(f"SELECT MAX(leaf_index) AS top FROM {self._hashes}")[0]
        return 0 if row["top"] is None else int(row["top"]) + 1

    def events(self, job: UUID | None = None, batch: int = BATCH) -> Iterator[StoredRecord]:
        """Every stored event (or one job's) in position order, a batch at a time."""
        pos, m = self.tables.position, self._m
        where = f"WHERE {pos} > {m}" + (f" AND originator_id = {m}" if job else "")
        statement = (
            f"SELECT {pos} AS position, originator_id, originator_version, topic, state "
            f"FROM {self._events} {where} ORDER BY {pos} LIMIT {m}"
        )
        after = 0
        while True:
            given = (after, self._stored_id(job), batch) if job else (after, batch)
            rows = self._rows(statement, given)
            for r in rows:
                yield StoredRecord(
                    int(r["position"]),
                    str(UUID(str(r["originator_id"]))),
                    int(r["originator_version"]),
                    r["topic"],
                    as_bytes(r["state"]),
                )
            if len(rows) < batch:
                return
            after = int(rows[-1]["position"])

    def _stored_id(self, job: UUID | None) -> Any:
        return None if job is None else self.tables.stored_id(job)

    def leaves(self, job: UUID | None = None, batch: int = BATCH) -> Iterator[ChainedLeaf]:
        """Every leaf record (or one job's) in position order, each with the stored leaf
        of its job's previous version."""
        m = self._m
        where = "WHERE h.position > " + m + (f" AND h.originator_id = {m}" if job else "")
        statement = (
            "SELECT h.leaf_index, h.position, h.originator_id, h.originator_version, "
            f"h.previous, h.leaf, p.leaf AS chain_previous FROM {self._hashes} h "
            f"LEFT JOIN {self._hashes} p ON p.originator_id = h.originator_id "
            "AND p.originator_version = h.originator_version - 1 "
            f"{where} ORDER BY h.position LIMIT {m}"
        )
        after = 0
        while True:
            rows = self._rows(statement, (after, str(job), batch) if job else (after, batch))
            for r in rows:
                record = LeafRecord(
                    int(r["leaf_index"]),
                    int(r["position"]),
                    r["originator_id"],
                    int(r["originator_version"]),
                    bytes(r["previous"]),
                    bytes(r["leaf"]),
                )
                previous = r["chain_previous"]
                yield record, None if previous is None else bytes(previous)
            if len(rows) < batch:
                return
            after = int(rows[-1]["position"])

    def batches(self, batch: int = BATCH) -> Iterator[tuple[list[EventRow], list[LeafRow]]]:
        """The whole log as plain rows, events and leaf records of the same positions
        side by side, a batch at a time: what ``audit verify`` reads fast.

        Each leaf row ends with the stored leaf of its job's previous version, as
        ``leaves`` gives it, but from a bounded cache of each job's latest leaf instead
        of a join per row; jobs not in it are looked up together, once per batch."""
        pos, m = self.tables.position, self._m
        events_statement = (
            f"SELECT {pos}, originator_id, originator_version, topic, state "
            f"FROM {self._events} WHERE {pos} > {m} ORDER BY {pos} LIMIT {m}"
        )
        leaves_statement = (
            "SELECT leaf_index, position, originator_id, originator_version, previous, leaf "
            f"FROM {self._hashes} WHERE position > {m} ORDER BY position LIMIT {m}"
        )
        latest: dict[Any, tuple[Any, Any]] = {}
        after = 0
        while True:
            events = self._tuples(events_statement, (after, batch))
            leaves = self._tuples(leaves_statement, (after, batch))
            # Read on only to the last position both sides have reached in full.
            full = [rows[-1][at] for rows, at in ((events, 0), (leaves, 1)) if len(rows) == batch]
            cut = min(full) if full else None
            if cut is not None:
                events = events[: bisect_right(events, cut, key=lambda r: r[0])]
                leaves = leaves[: bisect_right(leaves, cut, key=lambda r: r[1])]
            if len(latest) > CHAIN_CACHE:
                latest.clear()
            yield events, self._chained(leaves, latest)
            if cut is None:
                return
            after = cut

    def _chained(self, leaves: list[Any], latest: dict[Any, tuple[Any, Any]]) -> list[LeafRow]:
        """``leaves`` with the stored leaf of each one's previous version appended."""
        found: list[LeafRow] = []
        missing: list[int] = []
        for index, position, job, version, previous, leaf in leaves:
            before = None
            if type(version) is not int:  # an edit left another type: ask as the join did
                before = self._previous_leaf(job, version)
            elif version != 1:
                cached = latest.get(job)
                if cached is not None and cached[0] == version - 1:
                    before = cached[1]
                else:
                    missing.append(len(found))
            latest[job] = (version, leaf)
            found.append((index, position, job, version, previous, leaf, before))
        if missing:
            looked_up = self._leaves_of([(found[n][2], found[n][3] - 1) for n in missing])
            for n in missing:
                row = found[n]
                found[n] = (*row[:6], looked_up.get((row[2], row[3] - 1)))
        return found

    def _previous_leaf(self, job: Any, version: Any) -> Any:
        m = self._m
        rows = self._rows(
            f"SELECT leaf FROM {self._hashes} "
            f"WHERE originator_id = {m} AND originator_version = {m} - 1",
            (job, version),
        )
        return bytes(rows[0]["leaf"]) if rows else None

    def _leaves_of(self, wanted: list[tuple[Any, int]], chunk: int = 200) -> dict[Any, Any]:
        """The stored leaves of the given (job, version) pairs that exist."""
        m = self._m
        found: dict[Any, Any] = {}
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            either = " OR ".join(
                [f"(originator_id = {m} AND originator_version = {m})"] * len(part)
            )
            rows = self._tuples(
                f"SELECT originator_id, originator_version, leaf FROM {self._hashes} "
                f"WHERE {either}",
                tuple(value for pair in part for value in pair),
            )
            found.update({(job, version): leaf for job, version, leaf in rows})
        return found

    def leaf_range(self, start: int, end: int) -> list[bytes]:
        """The stored leaves ``[start, end)`` by tree index."""
        m = self._m
        rows = self._rows(
            f"SELECT leaf FROM {self._hashes} WHERE leaf_index >= {m} AND leaf_index < {m} "
            "ORDER BY leaf_index",
            (start, end),
        )
        return [bytes(r["leaf"]) for r in rows]

    def block_roots(self, start: int, end: int) -> dict[int, bytes]:
        """The cached roots of complete blocks ``[start, end)`` (see ``StoredTree``)."""
        m = self._m
        rows = self._rows(
            f"SELECT block_index, root FROM {self._blocks} "
            f"WHERE block_index >= {m} AND block_index < {m}",
            (start, end),
        )
        return {int(r["block_index"]): bytes(r["root"]) for r in rows}

    def record_block_roots(self, roots: dict[int, bytes]) -> None:
        m = self._m
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self._blocks} (block_index, root) VALUES ({m}, {m}) "
                "ON CONFLICT (block_index) DO NOTHING",
                list(roots.items()),
            )

    def node_roots(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The cached roots of the given (height, index) subtrees above the blocks."""
        m = self._m
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(wanted), 200):
            part = wanted[start : start + 200]
            either = " OR ".join([f"(height = {m} AND node_index = {m})"] * len(part))
            rows = self._tuples(
                f"SELECT height, node_index, root FROM {self._nodes} WHERE {either}",
                tuple(value for pair in part for value in pair),
            )
            found.update({(int(h), int(i)): bytes(root) for h, i, root in rows})
        return found

    def record_node_roots(self, roots: dict[tuple[int, int], bytes]) -> None:
        m = self._m
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self._nodes} (height, node_index, root) VALUES ({m}, {m}, {m}) "
                "ON CONFLICT (height, node_index) DO NOTHING",
                [(h, i, root) for (h, i), root in roots.items()],
            )

    def record_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Keep a checkpoint; one at a size is kept once (the first signed wins)."""
        with self.datastore.transaction(commit=True) as cursor:
            self.insert_checkpoint(cursor, checkpoint)

    def insert_checkpoint(self, cursor: Any, checkpoint: Checkpoint) -> None:
        m = self._m
        cursor.execute(
            f"INSERT INTO {self._checkpoints} (tree_size, root, taken_at, key_id, signature) "
            f"VALUES ({m}, {m}, {m}, {m}, {m}) ON CONFLICT (tree_size) DO NOTHING",
            (
                checkpoint.tree_size,
                checkpoint.root,
                checkpoint.taken_at.isoformat(timespec="microseconds"),
                checkpoint.key_id,
                checkpoint.signature,
            ),
        )

    def checkpoints(self, size: int | None = None) -> list[Checkpoint]:
        """The kept checkpoints by size (or the one of ``size``)."""
        where, given = (f"WHERE tree_size = {self._m}", (size,)) if size is not None else ("", ())
        rows = self._rows(f"SELECT * FROM {self._checkpoints} {where} ORDER BY tree_size", given)
        return [
            Checkpoint(
                int(r["tree_size"]),
                bytes(r["root"]),
                datetime.fromisoformat(r["taken_at"]),
                r["key_id"],
                bytes(r["signature"]),
            )
            for r in rows
        ]
