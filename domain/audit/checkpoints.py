"""A checkpoint: the log's size and root at a moment, signed by the ledger's key.

Auditors keep checkpoints outside the system; a later log must still produce each
kept root at its size (and a consistency proof shows it does). Signing and checking
signatures is the adapters' job; this is what is signed and how it is written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobledger.domain.errors import InvalidCommand


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root: bytes
    taken_at: datetime  # UTC
    key_id: str = ""
    signature: bytes = b""

    def signed_bytes(self) -> bytes:
        """What the signature covers: one canonical line per field."""
        return (
            f"jobledger checkpoint v1\n{self.tree_size}\n{self.root.hex()}\n"
            f"{self.taken_at.isoformat(timespec='microseconds')}\n"
        ).encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "taken_at": self.taken_at.isoformat(timespec="microseconds"),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, document: Any) -> Checkpoint:
        try:
            return cls(
                tree_size=int(document["tree_size"]),
                root=bytes.fromhex(document["root"]),
                taken_at=datetime.fromisoformat(document["taken_at"]),
                key_id=str(document["key_id"]),
                signature=bytes.fromhex(document["signature"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidCommand(f"checkpoint: not a jobledger checkpoint ({error})") from None
