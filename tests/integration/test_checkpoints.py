"""Checkpoints: signed by the ledger's key, taken when the log grew, one per size."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from jobledger.adapters.audit.periodic import Checkpointer
from jobledger.adapters.audit.signing import ledger_key, ledger_key_path, signed_by
from jobledger.adapters.auth.keys import dev_key_path
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.domain.audit.merkle import root_of
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
