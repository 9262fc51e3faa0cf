"""What the auditor's commands and routes do over a ledger's store: take a checkpoint,
verify the log (streaming, in constant memory) and prove a job's events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jobledger.adapters.audit.signing import sign, signed_by
from jobledger.adapters.audit.sweep import sweep
from jobledger.adapters.store.sql.audit_log import BATCH, SqlAuditLog
from jobledger.adapters.store.sql.hashes import BLOCK
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.merkle import (
    inclusion_proof,
    node_hash,
    root_of,
    split,
    verify_inclusion,
)
from jobledger.domain.audit.verification import Break, BreakKind, LogVerifier, paired

T = TypeVar("T")
_sha256 = hashlib.sha256
Progress = Callable[[int], object]


def take_checkpoint(log: SqlAuditLog, key: Ed25519PrivateKey, now: datetime) -> Checkpoint:
    """Sign the root of the log as it stands and keep it in the store."""
    size = log.size()
    checkpoint = sign(Checkpoint(size, StoredTree(log).root(size), now), key)
    log.record_checkpoint(checkpoint)
    return log.checkpoints(size)[0]  # the one kept, if another process took it first


def counted(items: Iterable[T], on_item: Progress | None, every: int = BATCH) -> Iterator[T]:
    for n, item in enumerate(items, start=1):
        if on_item is not None and n % every == 0:
            on_item(n)
        yield item


def verify_log(
    log: SqlAuditLog,
    public: Ed25519PublicKey,
    kept: Sequence[Checkpoint] = (),
    *,
    job: UUID | None = None,
    on_progress: Progress | None = None,
) -> LogVerifier:
    """Every break in the log (or in one job's chain), against the stored checkpoints and
    those an auditor kept; each checkpoint's signature is checked too."""
    checkpoints = [*log.checkpoints(), *kept] if job is None else []
    verifier = LogVerifier(checkpoints, whole_log=job is None)
    for checkpoint in [*log.checkpoints(), *kept]:
        if not signed_by(checkpoint, public):
            verifier.breaks.append(
                Break(
                    BreakKind.CHECKPOINT,
                    f"the checkpoint of {checkpoint.tree_size:,} events taken at "
                    f"{checkpoint.taken_at.isoformat()} is not signed by the ledger's key",
                )
            )
    if job is None:
        sweep(log, verifier, on_progress)
    else:
        for event, chained in counted(paired(log.events(job), log.leaves(job)), on_progress):
            verifier.feed(event, chained)
    verifier.finish()
    return verifier


class StoredTree:
    """Subtree hashes over the stored leaves, from two caches in the store. Complete
    blocks of ``BLOCK`` leaves never change (the log only grows), so their roots are kept
    in ``merkle_blocks``; so are the aligned perfect subtrees above them, in
    ``merkle_nodes`` by (height, index). A proof of a million leaves then reads about
    twenty cached roots and one block of leaves. Both caches fill as roots are first
    computed (a checkpoint does it) and can be dropped and rebuilt. They need no trust:
    ``verify`` never reads them, and a proof built from a wrong entry fails against the
    signed root."""

    def __init__(self, log: SqlAuditLog) -> None:
        self.log = log
        self._perfect: dict[tuple[int, int], bytes] = {}  # (start, end) -> root
        self._levels: dict[int, list[list[bytes]]] = {}  # block index -> its tree, by level
        self._new_nodes: dict[tuple[int, int], bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}  # cached node roots read so far
        self._depth = 0

    def root(self, size: int) -> bytes:
        return self(0, size) if size else root_of([])

    def _blocks(self, start: int, end: int) -> dict[int, bytes]:
        found = self.log.block_roots(start, end)
        missing = [i for i in range(start, end) if i not in found]
        made: dict[int, bytes] = {}
        for index in missing:
            made[index] = root_of(self.log.leaf_range(index * BLOCK, (index + 1) * BLOCK))
            if len(made) >= 256:
                self.log.record_block_roots(made)
                found.update(made)
                made = {}
        if made:
            self.log.record_block_roots(made)
            found.update(made)
        return found

    def __call__(self, start: int, end: int) -> bytes:
        self._depth += 1
        try:
            return self._subtree(start, end)
        finally:
            self._depth -= 1
            if not self._depth and self._new_nodes:
                self.log.record_node_roots(self._new_nodes)
                self._new_nodes = {}

    def _subtree(self, start: int, end: int) -> bytes:
        size = end - start
        if size & (size - 1):  # ragged: the perfect subtrees it splits into
            k = split(size)
            return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))
        found = self._perfect.get((start, end))
        if found is None:
            if size < BLOCK:
                found = self._within_block(start, end)
            elif size == BLOCK:
                found = self._blocks(start // BLOCK, start // BLOCK + 1)[start // BLOCK]
            else:  # aligned (RFC 6962 subtrees are): a cached node, or its blocks folded
                height = size.bit_length() - 1
                key = (height, start >> height)
                if key not in self._nodes:
                    self._nodes.update(self.log.node_roots(_around(start, key)))
                found = self._nodes.get(key) or self._fold(start, end)
            self._perfect[(start, end)] = found
        return found

    def _within_block(self, start: int, end: int) -> bytes:
        block, size = start // BLOCK, end - start
        if block not in self._levels:
            leaves = self.log.leaf_range(block * BLOCK, (block + 1) * BLOCK)
            # A complete block is folded once; the tail's leaves alone are kept.
            self._levels[block] = fold_perfect(leaves) if len(leaves) == BLOCK else [leaves]
        levels, offset = self._levels[block], start - block * BLOCK
        height = size.bit_length() - 1
        if len(levels) > height:
            return levels[height][offset >> height]
        return fold_perfect(levels[0][offset : offset + size])[-1][0]

    def _fold(self, start: int, end: int) -> bytes:
        """The root of whole blocks ``[start, end)``, keeping each node above a block."""
        roots = self._blocks(start // BLOCK, end // BLOCK)
        levels = fold_perfect([roots[i] for i in range(start // BLOCK, end // BLOCK)])
        first, height = start // BLOCK, BLOCK.bit_length() - 1
        for level in levels[1:]:
            first, height = first // 2, height + 1
            for offset, root in enumerate(level):
                self._new_nodes[(height, first + offset)] = root
        return levels[-1][0]


def _around(start: int, key: tuple[int, int]) -> list[tuple[int, int]]:
    """The node asked for and, at every height above a block, the nodes beside the one
    holding ``start``: what the rest of a proof near ``start`` asks for, in one read."""
    found = {key}
    for height in range(BLOCK.bit_length(), 64):
        index = start >> height
        found.update((height, i) for i in (index - 1, index, index + 1) if i >= 0)
        if not index:
            break
    return sorted(found)


def fold_perfect(level: list[bytes]) -> list[list[bytes]]:
    """Every level of the perfect tree over ``level`` (a power-of-two count of equal
    subtrees), bottom up: the last holds only the root."""
    levels = [level]
    while len(level) > 1:
        level = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)
        ]
        levels.append(level)
    return levels


@dataclass(frozen=True)
class Inclusion:
    job: str
    version: int
    position: int
    leaf_index: int
    leaf: bytes
    proof: list[bytes]
    holds: bool

    def to_json(self, checkpoint: Checkpoint) -> dict[str, Any]:
        return {
            "job": self.job,
            "version": self.version,
            "position": self.position,
            "leaf_index": self.leaf_index,
            "leaf": self.leaf.hex(),
            "tree_size": checkpoint.tree_size,
            "root": checkpoint.root.hex(),
            "proof": [p.hex() for p in self.proof],
            "holds": self.holds,
        }


def prove_job(log: SqlAuditLog, job: UUID, checkpoint: Checkpoint) -> list[Inclusion]:
    """Inclusion proofs of the job's events that the checkpoint covers."""
    tree = StoredTree(log)
    found = []
    for record, _ in log.leaves(job):
        if record.index >= checkpoint.tree_size:
            continue
        proof = inclusion_proof(record.index, checkpoint.tree_size, tree)
        holds = verify_inclusion(
            record.index, checkpoint.tree_size, record.leaf, proof, checkpoint.root
        )
        found.append(
            Inclusion(
                record.originator_id,
                record.version,
                record.position,
                record.index,
                record.leaf,
                proof,
                holds,
            )
        )
    return found
