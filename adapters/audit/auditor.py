"""What the auditor's commands and routes do over a ledger's store: take a checkpoint,
verify the log (streaming, in constant memory) and prove a job's events."""

from __future__ import annotations

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
    RootBuilder,
    inclusion_proof,
    node_hash,
    root_of,
    split,
    verify_inclusion,
)
from jobledger.domain.audit.verification import Break, BreakKind, LogVerifier, paired

T = TypeVar("T")
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
    """Subtree hashes over the stored leaves. Complete blocks of ``BLOCK`` leaves never
    change (the log only grows), so their roots are cached in the store as they are first
    computed: a subtree of a million leaves is then a thousand cached roots, not a million
    leaves. The cache needs no trust: a proof built from a wrong entry fails to verify."""

    def __init__(self, log: SqlAuditLog) -> None:
        self.log = log
        self._perfect: dict[tuple[int, int], bytes] = {}

    def root(self, size: int) -> bytes:
        blocks = size // BLOCK
        builder = RootBuilder()
        if blocks:
            roots = self._blocks(0, blocks)
            for index in range(blocks):  # blocks are perfect subtrees: push them whole
                builder.extend_perfect(roots[index], BLOCK)
        builder.extend(self.log.leaf_range(blocks * BLOCK, size))
        return builder.root()

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
        size = end - start
        if size & (size - 1):  # ragged: the perfect subtrees it splits into
            k = split(size)
            return node_hash(self(start, start + k), self(start + k, end))
        if (start, end) not in self._perfect:
            if size >= BLOCK:  # aligned (RFC 6962 subtrees are): a run of whole blocks
                roots = self._blocks(start // BLOCK, end // BLOCK)
                found = root_of_perfect([roots[i] for i in range(start // BLOCK, end // BLOCK)])
            else:
                found = root_of(self.log.leaf_range(start, end))
            self._perfect[(start, end)] = found
        return self._perfect[(start, end)]


def root_of_perfect(roots: list[bytes]) -> bytes:
    """The root over a power-of-two count of equal perfect subtrees."""
    while len(roots) > 1:
        roots = [node_hash(roots[i], roots[i + 1]) for i in range(0, len(roots), 2)]
    return roots[0]


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
