"""domain <- projections <- adapters: an import that points the wrong way fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": ("jobledger.projections", "jobledger.adapters"),
    "projections": ("jobledger.adapters",),
}


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_from_the_layers_above(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files found in {layer}/"
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imports_of(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert wrong == []


def test_domain_imports_no_io_libraries() -> None:
    io_modules = ("sqlite3", "aiosqlite", "typer", "rich", "fastapi", "httpx", "psycopg")
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "domain").rglob("*.py"))
        for name in imports_of(path)
        if name.split(".")[0] in io_modules
    ]
    assert wrong == []
