"""``jobledger copy``: an embedded ledger moved onto PostgreSQL in one command."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.copying import verify_copy
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import CommandMeta
from jobledger.projections.schema import ALL_TABLES
from tests.benchmarks.bench_projections import write_log
from tests.conftest import ANALYST, postgres_schema, select
from tests.e2e.test_cli import jobledger


def tables(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t.name: sorted(tuple(r.values()) for r in select(ledger, f"SELECT * FROM {t.name}"))
        for t in ALL_TABLES
    }


def copy_into(source_url: str, target: Settings) -> subprocess.CompletedProcess[str]:
    return jobledger(
        "copy", "--from", source_url, "--to", target.db, "--to-schema", target.pg_schema
    )


def test_copy_moves_every_event_and_gives_equal_read_models(tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'embedded.db'}"
    source = build_ledger(Settings(db=source_url))
    write_log(source, 2_500)
    retried = source.submit(ANALYST, "graph_analysis", meta=CommandMeta(command_id="submit-7"))
    build_runner(source).catch_up()
    with postgres_schema() as target_settings:
        done = copy_into(source_url, target_settings)
        assert done.returncode == 0, done.stderr
        assert "copied and verified" in done.stdout
        target = build_ledger(target_settings, create=False)
        try:
            assert verify_copy(source, target) == source.recorder.max_notification_id()
            assert tables(target) == tables(source)
            again = target.submit(
                ANALYST, "graph_analysis", meta=CommandMeta(command_id="submit-7")
            )
            assert again.replayed
            assert again.job_id == retried.job_id  # receipts moved too: retries stay safe
        finally:
            target.close()

        refused = copy_into(source_url, target_settings)
        assert refused.returncode == 6
        assert "already holds" in refused.stderr
    source.close()


def test_migrate_creates_the_tables_up_front(tmp_path: Path) -> None:
    with postgres_schema() as settings:
        done = jobledger("migrate", "--db", settings.db, JOBLEDGER_PG_SCHEMA=settings.pg_schema)
        assert done.returncode == 0, done.stderr
        assert f"({settings.pg_schema})" in done.stdout
        ledger = build_ledger(settings, create=False)  # a ledger is there now, though empty
        try:
            assert select(ledger, "SELECT COUNT(*) AS n FROM job_summaries") == [{"n": 0}]
        finally:
            ledger.close()
