"""Checking a log against its leaf records and its checkpoints, in one pass.

The caller streams the events and the leaf records, each in position order; the
verifier pairs them, recomputes every leaf, follows each job's chain, rebuilds the
tree in O(log n) memory and compares its root at every checkpoint's size. Each
break names the job, the version and the position, so an auditor knows where to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.leaves import GENESIS, LeafRecord, StoredRecord, event_leaf
from jobledger.domain.audit.merkle import RootBuilder


class BreakKind(StrEnum):
    CHANGED = "changed"  # the event's bytes are not what was hashed
    REMOVED = "removed"  # a leaf record without its event
    INSERTED = "inserted"  # an event without a leaf record
    REORDERED = "reordered"  # an event or leaf record not where the log put it
    CHAIN = "chain"  # a job's event does not name its previous event's hash
    CHECKPOINT = "checkpoint"  # the log no longer produces a checkpoint's root


@dataclass(frozen=True)
class Break:
    kind: BreakKind
    detail: str
    position: int | None = None
    job: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        where = [
            f"{name} {value}"
            for name, value in (
                ("job", self.job),
                ("version", self.version),
                ("position", self.position),
            )
            if value is not None
        ]
        return f"{self.kind}: {', '.join(where)}{': ' if where else ''}{self.detail}"


# A leaf record with the stored leaf of its job's previous version (None: there is none).
ChainedLeaf = tuple[LeafRecord, bytes | None]


def paired(
    events: Iterable[StoredRecord], leaves: Iterable[ChainedLeaf]
) -> Iterator[tuple[StoredRecord | None, ChainedLeaf | None]]:
    """Events and leaf records side by side by position; None where one is missing."""
    event_iter, leaf_iter = iter(events), iter(leaves)
    event, leaf = next(event_iter, None), next(leaf_iter, None)
    while event is not None or leaf is not None:
        if leaf is None or (event is not None and event.position < leaf[0].position):
            yield event, None
            event = next(event_iter, None)
        elif event is None or leaf[0].position < event.position:
            yield None, leaf
            leaf = next(leaf_iter, None)
        else:
            yield event, leaf
            event, leaf = next(event_iter, None), next(leaf_iter, None)


@dataclass
class LogVerifier:
    """Feed it every (event, leaf record) pair in position order, then ``finish``."""

    checkpoints: Sequence[Checkpoint]
    whole_log: bool = True  # False: one job's events, whose leaf indexes have gaps
    breaks: list[Break] = field(default_factory=list)
    checked: int = 0
    tree: RootBuilder = field(default_factory=RootBuilder)
    _due: list[Checkpoint] = field(default_factory=list)
    _good_up_to: int = 0  # the tree size of the last checkpoint that held
    _last_position: int = 0

    def __post_init__(self) -> None:
        self._due = sorted(self.checkpoints, key=lambda c: c.tree_size, reverse=True)
        while self._due and self._due[-1].tree_size == 0:
            self._due.pop()

    def feed(self, event: StoredRecord | None, chained: ChainedLeaf | None) -> None:
        self.checked += 1
        if chained is None:
            assert event is not None
            self._break(BreakKind.INSERTED, event, "an event the log never hashed: inserted")
            self._append(event_leaf(event, GENESIS), event.position)
            return
        record, chain_previous = chained
        if event is None:
            self._break(BreakKind.REMOVED, record, "the event is gone; its leaf record remains")
            return
        if self.whole_log and record.index != self.tree.size:
            self._break(
                BreakKind.REORDERED,
                record,
                f"leaf index {record.index} where the log expects {self.tree.size}",
            )
        leaf = event_leaf(event, record.previous)
        if (record.originator_id, record.version) != (event.originator_id, event.version):
            self._break(
                BreakKind.REORDERED,
                event,
                f"the log recorded job {record.originator_id} version {record.version} here",
            )
        elif leaf != record.leaf:
            self._break(BreakKind.CHANGED, event, "its stored bytes differ from what was hashed")
        if record.version == 1:
            expected: bytes | None = GENESIS
        else:
            expected = chain_previous
        if expected is None:
            self._break(BreakKind.CHAIN, record, f"version {record.version - 1} is missing")
        elif record.previous != expected:
            self._break(BreakKind.CHAIN, record, "does not name its previous event's hash")
        self._append(leaf, event.position)

    def _append(self, leaf: bytes, position: int) -> None:
        self.tree.append(leaf)
        self.settle(position)

    @property
    def next_due(self) -> int:
        """The tree size of the next checkpoint to compare (0: none left)."""
        return self._due[-1].tree_size if self._due else 0

    def settle(self, position: int) -> None:
        """Compare the checkpoints due at the tree's size; call after each append made
        straight to ``tree`` (a fast path that skips ``feed``)."""
        while self._due and self._due[-1].tree_size == self.tree.size:
            kept = self._due.pop()
            if self.tree.root() == kept.root:
                self._good_up_to = kept.tree_size
            else:
                self.breaks.append(
                    Break(
                        BreakKind.CHECKPOINT,
                        f"the checkpoint of {kept.tree_size:,} events taken at "
                        f"{kept.taken_at.isoformat()} is no longer produced: the log changed "
                        f"between event {self._good_up_to + 1:,} and event {kept.tree_size:,}",
                        position=position,
                    )
                )
        self._last_position = position

    def _break(self, kind: BreakKind, where: StoredRecord | LeafRecord, detail: str) -> None:
        self.breaks.append(Break(kind, detail, where.position, where.originator_id, where.version))

    def finish(self) -> list[Break]:
        for kept in reversed(self._due):
            self.breaks.append(
                Break(
                    BreakKind.CHECKPOINT,
                    f"the checkpoint of {kept.tree_size:,} events taken at "
                    f"{kept.taken_at.isoformat()} is no longer produced: the log holds only "
                    f"{self.tree.size:,} (its tail was truncated or events removed)",
                )
            )
        self._due = []
        return self.breaks


def verify(
    events: Iterable[StoredRecord], leaves: Iterable[ChainedLeaf], checkpoints: Sequence[Checkpoint]
) -> LogVerifier:
    verifier = LogVerifier(checkpoints)
    for event, chained in paired(events, leaves):
        verifier.feed(event, chained)
    verifier.finish()
    return verifier
