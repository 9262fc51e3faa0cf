"""The CLI runs against both stores: ``db_url`` is a SQLite file, then a fresh
PostgreSQL schema (named to the subprocesses through ``JOBLEDGER_PG_SCHEMA``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_schema


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with postgres_schema() as settings:
        monkeypatch.setenv("JOBLEDGER_PG_SCHEMA", settings.pg_schema)
        yield settings.db
