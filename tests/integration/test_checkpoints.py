"""Checkpoints: signed by the ledger's key, taken when the log grew, one per size."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from jobledger.adapters.audit.auditor import StoredTree
from jobledger.adapters.audit.periodic import Checkpointer
from jobledger.adapters.audit.signing import ledger_key, ledger_key_path, signed_by
from jobledger.adapters.auth.keys import dev_key_path
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.sql.hashes import BLOCK
from jobledger.domain.audit.merkle import MemoryTree, consistency_proof, inclusion_proof, root_of
from jobledger.domain.ledger import Ledger
from tests.conftest import ANALYST, select

NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_a_checkpoint_is_taken_only_when_the_log_grew_and_is_signed(db_url: str) -> None:
    settings = Settings(db=db_url)
    ledger: Ledger = build_ledger(settings)
    log = backend_of(ledger).audit_log(ledger)
    key = ledger_key(settings)
    taking = Checkpointer(log, key, lambda: NOON, interval=60)
    ledger.submit(ANALYST, "graph_analysis")
    first = taking.take_if_grown()
    assert first is not None
    assert first.tree_size == 1
    assert taking.take_if_grown() is None
    ledger.submit(ANALYST, "graph_analysis")
    second = taking.take_if_grown()
    assert second is not None
    assert second.tree_size == 2
    leaves = [
        bytes(r["leaf"])
        for r in select(ledger, "SELECT leaf FROM event_hashes ORDER BY leaf_index")
    ]
    assert second.root == root_of(leaves)
    assert [c.tree_size for c in log.checkpoints()] == [1, 2]
    assert signed_by(second, key.public_key())
    assert not signed_by(replace(second, tree_size=3), key.public_key())
    ledger.close()


def test_the_ledger_key_is_not_the_token_key(db_url: str) -> None:
    settings = Settings(db=db_url)
    assert ledger_key_path(settings) != dev_key_path(settings)
    assert ledger_key_path(settings).parent == dev_key_path(settings).parent


def test_proofs_from_the_store_match_the_tree_of_its_leaves_past_a_cached_block(
    db_url: str,
) -> None:
    ledger = build_ledger(Settings(db=db_url))
    jobs = [uuid4() for _ in range(50)]
    events = [
        StoredEvent(jobs[n % 50], n // 50 + 1, "jobledger.domain.events:HeartbeatRecorded", b"{}")
        for n in range(BLOCK * 2 + 37)
    ]
    for first in range(0, len(events), 500):
        ledger.recorder.insert_events(events[first : first + 500])
    log = backend_of(ledger).audit_log(ledger)
    leaves = log.leaf_range(0, len(events))
    memory = MemoryTree(leaves)
    size = len(leaves)
    assert StoredTree(log).root(size) == root_of(leaves)
    assert len(log.block_roots(0, 10)) == 2  # cached for the next reader
    for index in (0, BLOCK - 1, BLOCK + 5, size - 1):
        assert inclusion_proof(index, size, StoredTree(log)) == inclusion_proof(index, size, memory)
    for old in (1, BLOCK, BLOCK + 1, size - 1):
        assert consistency_proof(old, size, StoredTree(log)) == consistency_proof(old, size, memory)
    ledger.close()
