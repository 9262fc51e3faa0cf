"""Exports: export, import, export gives the same file; an auditor checks one with no
database and catches a one-byte change; an import refuses what does not verify."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobledger.adapters.audit.auditor import take_checkpoint, verify_log
from jobledger.adapters.audit.signing import ledger_key, signed_by
from jobledger.adapters.audit.transfer import export_log, import_log
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.domain.audit.exports import check_file
from jobledger.domain.errors import InvalidCommand
from jobledger.domain.ledger import Ledger
from tests.conftest import ANALYST, OTHER_TENANT, MovableClock, fresh_store
from tests.integration.history_of_every_event import write_every_event


def export_of(log: SqlAuditLog, **filters: object) -> str:
    out = io.StringIO()
    export_log(log, out.write, **filters)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Settings, Ledger, SqlAuditLog]]:
    settings = Settings(db=f"sqlite:///{tmp_path / 'source.db'}")
    clock = MovableClock()
    ledger = build_ledger(settings, clock=clock)
    write_every_event(ledger, clock.advance)
    ledger.submit(OTHER_TENANT, "graph_analysis")
    log = backend_of(ledger).audit_log(ledger)
    take_checkpoint(log, ledger_key(settings), datetime(2026, 11, 2, tzinfo=UTC))
    yield settings, ledger, log
    ledger.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_export_import_export_gives_the_same_file_and_the_ledger_goes_on(
    source: tuple[Settings, Ledger, SqlAuditLog], kind: str
) -> None:
    settings, _, log = source
    exported = export_of(log)
    public = ledger_key(settings).public_key()
    with fresh_store(kind) as target:
        ledger = build_ledger(target)
        copy = backend_of(ledger).audit_log(ledger)
        count = import_log(copy, lambda: io.StringIO(exported), lambda c: signed_by(c, public))
        assert count == log.size()
        assert export_of(copy) == exported
        ledger.submit(ANALYST, "graph_analysis")  # positions go on after the imported ones
        assert verify_log(copy, public).breaks == []
        assert copy.size() == count + 1
        ledger.close()


def test_the_offline_check_passes_on_an_export_and_fails_on_a_one_byte_change(
    source: tuple[Settings, Ledger, SqlAuditLog],
) -> None:
    settings, _, log = source
    public = ledger_key(settings).public_key()
    exported = export_of(log)
    kept = log.checkpoints()

    def check(text: str) -> list[str]:
        return [
            str(b)
            for b in check_file(io.StringIO(text), lambda c: signed_by(c, public), kept).breaks
        ]

    assert check(exported) == []
    lines = exported.splitlines(keepends=True)
    for number, field in ((5, '"state": "'), (9, '"leaf": "'), (len(lines) - 1, '"root": "')):
        line = lines[number]
        at = line.index(field) + len(field) + 10
        other = "1" if line[at] in "0aA" else "0"  # a different value in hex and base64 alike
        changed = line[:at] + other + line[at + 1 :]
        assert check("".join([*lines[:number], changed, *lines[number + 1 :]])) != []


def test_a_tenants_export_holds_only_its_events_and_still_verifies(
    source: tuple[Settings, Ledger, SqlAuditLog],
) -> None:
    settings, _, log = source
    exported = export_of(log, tenant="globex")
    assert exported.count('"type": "event"') == 1
    assert "acme" not in exported
    public = ledger_key(settings).public_key()
    assert check_file(io.StringIO(exported), lambda c: signed_by(c, public)).breaks == []


def test_an_import_refuses_a_file_that_does_not_verify_and_imports_nothing(
    source: tuple[Settings, Ledger, SqlAuditLog], tmp_path: Path
) -> None:
    _, _, log = source
    exported = export_of(log).replace('"version": 2', '"version": 3', 1)
    ledger = build_ledger(Settings(db=f"sqlite:///{tmp_path / 'target.db'}"))
    copy = backend_of(ledger).audit_log(ledger)
    with pytest.raises(InvalidCommand, match="does not verify"):
        import_log(copy, lambda: io.StringIO(exported), lambda c: True)
    with pytest.raises(InvalidCommand, match="filtered"):
        import_log(copy, lambda: io.StringIO(export_of(log, tenant="acme")), lambda c: True)
    assert copy.size() == 0
    assert next(copy.events(), None) is None
    ledger.close()
