"""What auditors read over HTTP: checkpoints and proofs (hashes in lowercase hex)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from jobledger.adapters.http.schemas.jobs import ApiModel
from jobledger.domain.audit.checkpoints import Checkpoint


class CheckpointOut(ApiModel):
    """A signed head of the log: its size and root at a moment (Ed25519 signature over
    the canonical lines described in docs/audit.md)."""

    tree_size: int
    root: str
    taken_at: datetime
    key_id: str
    signature: str

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(
            tree_size=checkpoint.tree_size,
            root=checkpoint.root.hex(),
            taken_at=checkpoint.taken_at,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature.hex(),
        )


class ConsistencyProofOut(ApiModel):
    """RFC 6962's proof that the tree of size ``to`` extends the tree of size ``from``."""

    from_size: int
    to_size: int
    proof: list[str]


class InclusionProofOut(ApiModel):
    version: int
    position: int
    leaf_index: int
    leaf: str
    proof: list[str]


class JobProofOut(ApiModel):
    """Inclusion proofs of a job's events in one checkpoint."""

    job_id: UUID
    checkpoint: CheckpointOut
    items: list[InclusionProofOut]
