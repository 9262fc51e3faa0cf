"""The layers and the store backends as a diagram, drawn from the imports themselves.

Each module belongs to the box of the longest folder listed in ``BOXES``; an arrow
``A --> B`` says that some module in A imports one in B. ``make docs`` redraws it
into ``docs/architecture.md`` and a test fails when the committed picture drifts.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "projections", "adapters")

# folder -> (node id, label); a folder not listed belongs to its nearest listed parent.
BOXES = {
    "domain": ("domain", "domain: Job, lifecycle, events, Ledger"),
    "projections": ("projections", "projections: read models, runner"),
    "adapters": ("root", "bootstrap (composition root), settings, sweeper, price books"),
    "adapters/store": ("store", "store: the StoreBackend port"),
    "adapters/store/sql": ("sql", "store/sql: shared tables and queries"),
    "adapters/store/sqlite": ("sqlite", "store/sqlite"),
    "adapters/store/postgres": ("postgres", "store/postgres"),
    "adapters/http": ("http", "http: app, security, envelope"),
    "adapters/http/routes": ("routes", "http/routes"),
    "adapters/http/schemas": ("schemas", "http/schemas"),
    "adapters/auth": ("auth", "auth: tokens, keys"),
    "adapters/cli": ("cli", "cli: commands, demo"),
    "adapters/client": ("client", "client: Python SDK"),
    "adapters/tools": ("tools", "tools: docs generator"),
}


def box_of(path: Path) -> str:
    """The node id of the box a module (a path relative to ROOT) belongs to."""
    folder = path.parent.as_posix()
    while folder not in BOXES:
        folder = folder.rsplit("/", 1)[0] if "/" in folder else ""
        if not folder:
            raise ValueError(f"{path} is in no box of the architecture diagram")
    return BOXES[folder][0]


def _module_path(dotted: str) -> Path | None:
    """``jobledger.adapters.store.sql.writer`` -> ``adapters/store/sql/writer.py``."""
    parts = dotted.split(".")
    if parts[0] != "jobledger" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    base = ROOT.joinpath(*parts[1:])
    if base.is_dir():
        return (base / "__init__.py").relative_to(ROOT)
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py").relative_to(ROOT)
    return (base.parent / "__init__.py").relative_to(ROOT)  # a name imported from a package


def imports() -> dict[str, set[str]]:
    """Box -> the boxes its modules import (itself left out)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            source = box_of(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                for name in names:
                    target = _module_path(name)
                    if target is not None and (ROOT / target).exists():
                        edges[source].add(box_of(target))
            edges[source].discard(source)
    return edges


def mermaid() -> str:
    """The diagram, one subgraph per layer, arrows in a stable order."""
    lines = ["```mermaid", "flowchart TD"]
    for layer in reversed(LAYERS):
        lines.append(f"  subgraph {layer}_layer [{layer}/]")
        for folder, (node, label) in BOXES.items():
            if folder.split("/")[0] == layer:
                lines.append(f'    {node}["{label}"]')
        lines.append("  end")
    edges = imports()
    for source in sorted(edges):
        for target in sorted(edges[source]):
            lines.append(f"  {source} --> {target}")
    lines.append("```")
    return "\n".join(lines) + "\n"
