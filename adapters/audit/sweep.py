"""``audit verify`` over the whole log, fast: plain rows in, no record objects for the
events that hold, and every other row handed to ``LogVerifier.feed`` as records, so
each break is found and worded exactly as the record-by-record check finds it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

from jobledger.adapters.store.sql.audit_log import BATCH, EventRow, LeafRow, SqlAuditLog, as_bytes
from jobledger.domain.audit.leaves import GENESIS, LeafRecord, StoredRecord, stored_leaf
from jobledger.domain.audit.verification import LogVerifier

ID_CACHE = 131_072


def sweep(
    log: SqlAuditLog,
    verifier: LogVerifier,
    on_progress: Callable[[int], object] | None = None,
    batch: int = BATCH,
) -> None:
    """Feed the verifier every event and leaf record of the log, in position order."""
    ids: dict[Any, str] = {}  # stored ids in their usual UUID text form, as ``_stored``'s
    for events, leaves in log.batches(batch):
        if len(ids) > ID_CACHE:
            ids.clear()
        feed_batch(verifier, events, leaves, ids)
        if on_progress is not None:
            on_progress(verifier.checked)


def feed_batch(
    verifier: LogVerifier, events: list[EventRow], leaves: list[LeafRow], ids: dict[Any, str]
) -> None:
    if [r[0] for r in events] != [r[1] for r in leaves]:  # a gap on one side: pair them
        _merge(verifier, events, leaves, ids)
        return
    tree = verifier.tree
    stack = tree._stack  # RootBuilder.append, inlined below: the hottest loop
    size, due = tree.size, verifier.next_due
    sha256 = hashlib.sha256
    for event, chained in zip(events, leaves, strict=True):
        position, stored_job, version, topic, state = event
        index, _, leaf_job, leaf_version, previous, leaf, before = chained
        job = ids.get(stored_job)
        if job is None:
            job = ids[stored_job] = _usual(stored_job)
        if (
            index == size
            and job == leaf_job
            and version == leaf_version
            and type(topic) is str
            and type(position) is int
            and type(version) is int
            and type(state) is bytes
            and type(previous) is bytes
            and (previous == GENESIS if version == 1 else previous == before)
        ) and stored_leaf(position, job, version, topic, state, previous) == leaf:
            n, merged = size, leaf
            while n & 1:
                merged = sha256(b"\x01" + stack.pop() + merged).digest()
                n >>= 1
            stack.append(merged)
            size += 1
            tree.size = size
            verifier.checked += 1
            if size == due:
                verifier.settle(position)
                due = verifier.next_due
            continue
        verifier.feed(_stored(event), _chained(chained))
        size, due = tree.size, verifier.next_due


def _merge(
    verifier: LogVerifier, events: list[EventRow], leaves: list[LeafRow], ids: dict[Any, str]
) -> None:
    """Events and leaf records paired by position where one side lacks some."""
    i = j = 0
    while i < len(events) or j < len(leaves):
        event = events[i] if i < len(events) else None
        chained = leaves[j] if j < len(leaves) else None
        if event is None or (chained is not None and chained[1] < event[0]):
            verifier.feed(None, _chained(chained))
            j += 1
        elif chained is None or event[0] < chained[1]:
            verifier.feed(_stored(event), None)
            i += 1
        else:
            feed_batch(verifier, [event], [chained], ids)
            i += 1
            j += 1


def _usual(stored_job: Any) -> str:
    """The id's usual text form, or "" (no job's) where it is no UUID at all."""
    try:
        return str(UUID(str(stored_job)))
    except ValueError:
        return ""


def _stored(row: Any) -> StoredRecord:
    position, job, version, topic, state = row
    return StoredRecord(int(position), str(UUID(str(job))), int(version), topic, as_bytes(state))


def _chained(row: Any) -> tuple[LeafRecord, bytes | None]:
    index, position, job, version, previous, leaf, before = row
    record = LeafRecord(int(index), int(position), job, int(version), bytes(previous), bytes(leaf))
    return record, None if before is None else bytes(before)
