"""A store is one folder: nothing outside ``adapters/store/`` asks which store it runs on."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_for, backends
from jobledger.adapters.store.backend import StoreBackend
from jobledger.domain.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "adapters" / "store"
# Store drivers and store folders: only the store folders may import them.
STORE_SPECIFIC = (
    "sqlite3", "aiosqlite", "psycopg", "psycopg_pool", "eventsourcing.sqlite",
    "eventsourcing.postgres", "jobledger.adapters.store.sqlite",
    "jobledger.adapters.store.postgres",
)  # fmt: skip
STORE_WORDS = ("sqlite", "postgres")


def outside_the_store_folders() -> list[Path]:
    return [
        path
        for layer in ("domain", "projections", "adapters")
        for path in sorted((ROOT / layer).rglob("*.py"))
        if STORE not in path.parents
    ]


def test_nothing_outside_the_store_folders_imports_a_store_driver() -> None:
    wrong = []
    for path in outside_the_store_folders():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            wrong += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in names
                if name == "sqlite3"
                or name.startswith(tuple(f"{s}." for s in STORE_SPECIFIC))
                or name in STORE_SPECIFIC
            ]
    assert wrong == []


def test_nothing_outside_the_store_folders_checks_the_store_type() -> None:
    """No ``isinstance(x, SQLiteSomething)``, no ``url.startswith("postgres")``, no
    comparison with a store's name."""
    wrong = []
    for path in outside_the_store_folders():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
                kinds = ast.unparse(node.args[1]).lower() if len(node.args) > 1 else ""
                if any(word in kinds for word in STORE_WORDS):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
            prefix_check = isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "startswith",
                "endswith",
            )
            if isinstance(node, ast.Compare) or prefix_check:
                literals = [
                    n.value.lower()
                    for n in ast.walk(node)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
                if any(word in s for s in literals for word in STORE_WORDS):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert wrong == []


def test_every_store_folder_exports_a_complete_backend() -> None:
    found = {b.__module__.split(".")[3] for b in backends()}
    folders = {p.name for p in STORE.iterdir() if (p / "backend.py").exists()}
    assert found == folders
    assert {"sqlite", "postgres"} <= found
    for backend in backends():
        assert issubclass(backend, StoreBackend)
        assert not inspect.isabstract(backend), f"{backend.__name__} leaves methods abstract"
        assert backend.schemes, f"{backend.__name__} answers to no URL scheme"
        assert backend.example.startswith(backend.schemes), backend.example


@pytest.mark.parametrize("url", ["sqlite:///l.db", "postgresql://db/ledgers"])
def test_a_store_that_shares_its_read_models_says_how_to_hear_of_them(url: str) -> None:
    backend = backend_for(Settings(db=url))
    assert (backend.projections_elsewhere() is not None) == backend.shares_read_models


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:///ledger.db", "SQLiteBackend"),
        ("sqlite:////var/lib/jobledger/ledger.db", "SQLiteBackend"),
        ("postgresql://u:secret@db:5433/ledgers", "PostgresBackend"),
        ("postgres://db/ledgers", "PostgresBackend"),
    ],
)
def test_the_backend_is_chosen_by_the_urls_scheme(url: str, kind: str) -> None:
    backend = backend_for(Settings(db=url))
    assert type(backend).__name__ == kind
    assert "secret" not in str(backend)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/x", "expected postgresql://user@host:port/database or sqlite:///path"),
        ("sqlite:///", "sqlite URL has no file path"),
        ("postgresql://db", "expected postgresql://user@host:port/database"),
        ("postgresql://db:port/x", "bad port"),
    ],
)
def test_a_url_no_store_answers_to_is_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        backend_for(Settings(db=url))
