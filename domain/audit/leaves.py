"""What a leaf of the log is: the hash of an event exactly as stored, chained to the
hash of the same job's previous event.

The encoding is canonical (fixed-width integers, length-prefixed strings and bytes), so
two stores that hold the same events at the same positions give the same hashes, and
no two different events share an encoding. Upcasting happens after reading, so a leaf
always covers the stored bytes and an upcast never breaks a proof.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jobledger.domain.audit.merkle import HASH_SIZE, leaf_hash

ENCODING = b"jobledger-event-v1"
GENESIS = bytes(HASH_SIZE)  # the "previous" hash of a job's first event


@dataclass(frozen=True)
class StoredRecord:
    """An event as the store holds it."""

    position: int  # the store's notification id: where the event sits in the log
    originator_id: str  # the aggregate (job or receipt) id, a UUID in its usual text form
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class LeafRecord:
    """What is written beside each event: its place in the tree and its hashes."""

    index: int  # 0-based leaf index in the Merkle tree (positions may have gaps)
    position: int
    originator_id: str
    version: int
    previous: bytes  # the leaf hash of this aggregate's previous event, or GENESIS
    leaf: bytes


def text(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def encode(record: StoredRecord, previous: bytes) -> bytes:
    return b"".join(
        (
            text(ENCODING.decode()),
            struct.pack(">Q", record.position),
            text(record.originator_id),
            struct.pack(">Q", record.version),
            text(record.topic),
            struct.pack(">I", len(record.state)),
            record.state,
            previous,
        )
    )


def event_leaf(record: StoredRecord, previous: bytes) -> bytes:
    return leaf_hash(encode(record, previous))


# ``leaf_hash(encode(...))`` without building a record: the constant head hashed once,
# topics (a handful per ledger) length-prefixed once. What ``audit verify`` runs per event.
_HEAD = hashlib.sha256(b"\x00" + text(ENCODING.decode()))
_POSITION_AND_ID = struct.Struct(">QI").pack
_VERSION = struct.Struct(">Q").pack
_LENGTH = struct.Struct(">I").pack
_TOPICS: dict[str, bytes] = {}


def stored_leaf(
    position: int, originator_id: str, version: int, topic: str, state: bytes, previous: bytes
) -> bytes:
    """The same hash as ``event_leaf`` (a property test holds them equal), faster."""
    head = _TOPICS.get(topic)
    if head is None:
        head = text(topic)
        if len(_TOPICS) < 1024:  # bounded: a forged log cannot grow it without limit
            _TOPICS[topic] = head
    oid = originator_id.encode()
    found = _HEAD.copy()
    found.update(
        b"".join(
            (
                _POSITION_AND_ID(position, len(oid)),
                oid,
                _VERSION(version),
                head,
                _LENGTH(len(state)),
                state,
                previous,
            )
        )
    )
    return found.digest()


def chain(
    records: Iterable[StoredRecord], first_index: int, previous: Mapping[str, bytes]
) -> list[LeafRecord]:
    """The leaf records of newly stored events, in log order; ``previous`` holds, for
    each aggregate already in the log, the leaf hash of its latest event."""
    last = dict(previous)
    found = []
    for offset, record in enumerate(records):
        before = last.get(record.originator_id, GENESIS)
        leaf = event_leaf(record, before)
        last[record.originator_id] = leaf
        found.append(
            LeafRecord(
                first_index + offset,
                record.position,
                record.originator_id,
                record.version,
                before,
                leaf,
            )
        )
    return found
