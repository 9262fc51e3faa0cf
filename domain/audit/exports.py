"""The export file: JSON Lines an auditor can check with no database.

One header line, then one line per leaf of the tree in order: an ``event`` line (the
event as stored, its leaf record) or, for events outside the export's tenant or time
window, a ``leaf`` line (the hash alone: leaves, not contents, cross tenants), then the
checkpoints. Checking recomputes each event's leaf, follows each job's chain where the
file holds it, rebuilds the tree and compares its root at every checkpoint's size.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.leaves import GENESIS, LeafRecord, StoredRecord, event_leaf
from jobledger.domain.audit.merkle import RootBuilder
from jobledger.domain.audit.verification import Break, BreakKind
from jobledger.domain.errors import InvalidCommand

FORMAT = "jobledger-audit-export/1"


def header_line(filtered: bool) -> str:
    return json.dumps({"type": "header", "format": FORMAT, "filtered": filtered})


def event_line(event: StoredRecord, record: LeafRecord) -> str:
    return json.dumps(
        {
            "type": "event",
            "leaf_index": record.index,
            "position": event.position,
            "job": event.originator_id,
            "version": event.version,
            "topic": event.topic,
            "state": base64.b64encode(event.state).decode(),
            "previous": record.previous.hex(),
            "leaf": record.leaf.hex(),
        }
    )


def leaf_line(record: LeafRecord) -> str:
    return json.dumps({"type": "leaf", "leaf_index": record.index, "leaf": record.leaf.hex()})


def checkpoint_line(checkpoint: Checkpoint) -> str:
    return json.dumps({"type": "checkpoint", **checkpoint.to_json()})


def tenant_and_time(state: bytes) -> tuple[str | None, datetime | None]:
    """The tenant and ledger time an event records (every jobledger event has both)."""
    try:
        found = json.loads(state)
        stamp = found.get("timestamp")
        when = stamp.get("_data_") if isinstance(stamp, dict) else stamp
        return found.get("tenant"), datetime.fromisoformat(when) if when else None
    except (ValueError, TypeError, AttributeError):
        return None, None


@dataclass
class FileCheck:
    """The outcome of checking an export: breaks, events and leaves seen, checkpoints."""

    breaks: list[Break] = field(default_factory=list)
    events: int = 0
    leaves: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    filtered: bool = False


def parse(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise InvalidCommand(f"line {number}: not JSON") from None
        if not isinstance(item, dict) or "type" not in item:
            raise InvalidCommand(f"line {number}: not an export line")
        item["_line"] = number
        yield item


def check_file(
    lines: Iterable[str],
    signed: Callable[[Checkpoint], bool],
    kept: Iterable[Checkpoint] = (),
) -> FileCheck:
    """Check an export; ``signed`` says whether a checkpoint's signature holds, ``kept``
    are checkpoints the auditor kept (each must be produced by the file's leaves)."""
    found = FileCheck()
    tree = RootBuilder()
    roots: dict[int, bytes] = {0: tree.root()}
    last: dict[str, bytes] = {}
    for item in parse(lines):
        kind = item["type"]
        try:
            if kind == "header":
                if item.get("format") != FORMAT:
                    raise InvalidCommand(f"line {item['_line']}: not a {FORMAT} file")
                found.filtered = bool(item.get("filtered"))
            elif kind == "event":
                event, record = _event(item)
                _check_event(found, event, record, last, tree.size)
                tree.append(event_leaf(event, record.previous))
                found.events += 1
            elif kind == "leaf":
                if int(item["leaf_index"]) != tree.size:
                    found.breaks.append(
                        Break(BreakKind.REORDERED, f"leaf index {item['leaf_index']} out of order")
                    )
                tree.append(bytes.fromhex(item["leaf"]))
            elif kind == "checkpoint":
                found.checkpoints.append(Checkpoint.from_json(item))
            else:
                raise InvalidCommand(f"line {item['_line']}: unknown line type {kind!r}")
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidCommand(f"line {item['_line']}: malformed ({error})") from None
        roots[tree.size] = tree.root()
    found.leaves = tree.size
    for checkpoint in [*found.checkpoints, *kept]:
        what = f"the checkpoint of {checkpoint.tree_size:,} events"
        if not signed(checkpoint):
            found.breaks.append(Break(BreakKind.CHECKPOINT, f"{what} is not signed by the key"))
        elif checkpoint.tree_size not in roots:
            found.breaks.append(
                Break(BreakKind.CHECKPOINT, f"{what}: the file holds only {tree.size:,} leaves")
            )
        elif roots[checkpoint.tree_size] != checkpoint.root:
            found.breaks.append(
                Break(BreakKind.CHECKPOINT, f"{what} is not produced by the file's leaves")
            )
    return found


def events_of(lines: Iterable[str]) -> Iterator[StoredRecord]:
    """The events a (checked) export holds, in log order."""
    for item in parse(lines):
        if item["type"] == "event":
            yield _event(item)[0]


def _event(item: dict[str, Any]) -> tuple[StoredRecord, LeafRecord]:
    event = StoredRecord(
        int(item["position"]),
        str(item["job"]),
        int(item["version"]),
        str(item["topic"]),
        base64.b64decode(item["state"], validate=True),
    )
    record = LeafRecord(
        int(item["leaf_index"]),
        event.position,
        event.originator_id,
        event.version,
        bytes.fromhex(item["previous"]),
        bytes.fromhex(item["leaf"]),
    )
    return event, record


def _check_event(
    found: FileCheck, event: StoredRecord, record: LeafRecord, last: dict[str, bytes], size: int
) -> None:
    def broken(kind: BreakKind, detail: str) -> None:
        found.breaks.append(Break(kind, detail, event.position, event.originator_id, event.version))

    if record.index != size:
        broken(BreakKind.REORDERED, f"leaf index {record.index} where the file expects {size}")
    if event_leaf(event, record.previous) != record.leaf:
        broken(BreakKind.CHANGED, "its bytes differ from what was hashed")
    if event.version == 1 and record.previous != GENESIS:
        broken(BreakKind.CHAIN, "a first event that names a previous one")
    elif event.originator_id in last and last[event.originator_id] != record.previous:
        broken(BreakKind.CHAIN, "does not name its previous event's hash")
    last[event.originator_id] = event_leaf(event, record.previous)
