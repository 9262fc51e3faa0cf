"""Proofs served from the cached block and node roots equal those computed from the
leaves, at any tree size; a wrong cache entry can make a proof fail, never pass, and
``verify`` does not read the caches at all."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.audit.auditor import StoredTree, prove_job, take_checkpoint, verify_log
from jobledger.adapters.audit.signing import ledger_key
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.adapters.store.sql.hashes import BLOCK
from jobledger.domain.audit.merkle import MemoryTree, consistency_proof, inclusion_proof, root_of
from jobledger.domain.ledger import Ledger

LEAVES = BLOCK * 5 + 300  # nodes cached at heights 11 and 12 above the blocks
JOBS = [uuid4() for _ in range(40)]
Stored = tuple[Ledger, SqlAuditLog, MemoryTree, Settings]


@pytest.fixture(scope="module")
def stored() -> Iterator[Stored]:
    folder = Path(tempfile.mkdtemp())
    where = Settings(db=f"sqlite:///{folder / 'ledger.db'}")
    ledger = build_ledger(where)
    events = [
        StoredEvent(JOBS[n % 40], n // 40 + 1, "jobledger.domain.events:HeartbeatRecorded", b"{}")
        for n in range(LEAVES)
    ]
    for first in range(0, LEAVES, 1_000):
        ledger.recorder.insert_events(events[first : first + 1_000])
    log = backend_of(ledger).audit_log(ledger)
    yield ledger, log, MemoryTree(log.leaf_range(0, LEAVES)), where
    ledger.close()
    shutil.rmtree(folder, ignore_errors=True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(1, LEAVES), at=st.floats(0, 1, exclude_max=True), old=st.floats(0, 1))
def test_proofs_from_the_caches_equal_proofs_from_the_leaves(
    stored: Stored, size: int, at: float, old: float
) -> None:
    _, log, memory, _ = stored
    index, old_size = int(at * size), int(old * size)
    leaves = MemoryTree(memory.leaves[:size])
    assert StoredTree(log).root(size) == root_of(leaves.leaves)
    assert inclusion_proof(index, size, StoredTree(log)) == inclusion_proof(index, size, leaves)
    assert consistency_proof(old_size, size, StoredTree(log)) == consistency_proof(
        old_size, size, leaves
    )


def test_the_caches_fill_and_a_wrong_entry_fails_the_proof_not_verify(
    stored: Stored,
) -> None:
    _, log, _, where = stored
    key = ledger_key(where)
    checkpoint = take_checkpoint(log, key, datetime(2026, 11, 2, tzinfo=UTC))
    assert log.node_roots([(11, 0), (12, 0), (11, 1)]).keys() == {(11, 0), (12, 0), (11, 1)}
    assert all(p.holds for p in prove_job(log, JOBS[3], checkpoint))
    with log.datastore.transaction(commit=True) as cursor:
        cursor.execute("DELETE FROM merkle_nodes WHERE height = 12")
        cursor.execute("INSERT INTO merkle_nodes VALUES (12, 0, ?)", (b"\x07" * 32,))
    proofs = prove_job(log, JOBS[3], checkpoint)
    assert not all(p.holds for p in proofs)  # events past the first 4,096 use the bad root
    assert verify_log(log, key.public_key()).breaks == []
    with log.datastore.transaction(commit=True) as cursor:
        cursor.execute("DELETE FROM merkle_nodes")  # dropped: rebuilt as proofs need it
    assert all(p.holds for p in prove_job(log, JOBS[3], checkpoint))
