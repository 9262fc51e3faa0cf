"""The job lifecycle: one transition table, and the state machine built from it.

The table is data. The `transitions` machine, the ``IllegalTransition`` messages,
the diagram in ``docs/lifecycle.md`` and the property tests all read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from uuid import UUID

from transitions import Machine

from jobledger.domain.errors import IllegalTransition


class JobStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    RUNNING = "running"
    VALIDATING = "validating"
    UPLOADING = "uploading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


LEASED = (JobStatus.CLAIMED, JobStatus.RUNNING, JobStatus.VALIDATING, JobStatus.UPLOADING)
WORKING = (JobStatus.RUNNING, JobStatus.VALIDATING, JobStatus.UPLOADING)


class Trigger(StrEnum):
    SUBMIT = "submit"
    CLAIM = "claim"
    RELEASE = "release"
    START = "start"
    REPORT_PROGRESS = "report_progress"
    RECORD_USAGE = "record_usage"
    APPEND_STEPS = "append_steps"
    HEARTBEAT = "heartbeat"
    BEGIN_VALIDATION = "begin_validation"
    BEGIN_UPLOAD = "begin_upload"
    COMPLETE = "complete"
    FAIL = "fail"
    EXPIRE_LEASE = "expire_lease"
    CANCEL = "cancel"
    ACKNOWLEDGE_CANCELLATION = "acknowledge_cancellation"


@dataclass(frozen=True)
class Transition:
    """One row of the table. ``dest=None`` means the job stays in its state."""

    trigger: Trigger
    sources: tuple[JobStatus, ...]
    dest: JobStatus | None
    note: str


_S = JobStatus
_T = Trigger

TRANSITIONS: tuple[Transition, ...] = (
    Transition(_T.SUBMIT, (), _S.QUEUED, "tenant, type, investigation, inputs, priority"),
    Transition(_T.CLAIM, (_S.QUEUED,), _S.CLAIMED, "agent, pool, lease id and deadline"),
    Transition(_T.RELEASE, (_S.CLAIMED,), _S.QUEUED, "the agent hands it back"),
    Transition(_T.START, (_S.CLAIMED,), _S.RUNNING, ""),
    Transition(_T.REPORT_PROGRESS, (_S.RUNNING,), None, "percent never decreases"),
    Transition(_T.RECORD_USAGE, LEASED, None, "model, tokens, cost"),
    Transition(_T.APPEND_STEPS, LEASED, None, "agent steps, in order; tokens priced"),
    Transition(_T.HEARTBEAT, LEASED, None, "renews the lease"),
    Transition(_T.BEGIN_VALIDATION, (_S.RUNNING,), _S.VALIDATING, ""),
    Transition(_T.BEGIN_UPLOAD, (_S.RUNNING, _S.VALIDATING), _S.UPLOADING, ""),
    Transition(_T.COMPLETE, WORKING, _S.COMPLETED, "result typed by the job type"),
    Transition(_T.FAIL, LEASED, _S.QUEUED, "retryable, attempts left, no cancel asked"),
    Transition(_T.FAIL, LEASED, _S.FAILED, "not retryable, or the last attempt"),
    Transition(_T.EXPIRE_LEASE, LEASED, _S.QUEUED, "attempts left: next attempt"),
    Transition(_T.EXPIRE_LEASE, LEASED, _S.FAILED, "last attempt: lease_expired"),
    Transition(_T.EXPIRE_LEASE, LEASED, _S.CANCELLED, "cancellation was requested"),
    Transition(_T.CANCEL, (_S.QUEUED, _S.CLAIMED), _S.CANCELLED, "immediate"),
    Transition(_T.CANCEL, WORKING, None, "cancellation requested"),
    Transition(_T.ACKNOWLEDGE_CANCELLATION, WORKING, _S.CANCELLED, "the worker stops as asked"),
)

# The states no row leaves: a job there is finished for good.
TERMINAL: frozenset[JobStatus] = frozenset(JobStatus) - {s for t in TRANSITIONS for s in t.sources}


class Lifecycle:
    """The `transitions` state machine over the table, asked what is allowed.

    The machine has no model: the Job aggregate changes state only by applying
    events, so the machine is consulted, never driven.
    """

    def __init__(self, table: Iterable[Transition] = TRANSITIONS) -> None:
        rows = list(table)
        self._machine = Machine(
            model=None,
            states=JobStatus,
            transitions=[
                {
                    "trigger": row.trigger.value,
                    "source": list(row.sources),
                    "dest": row.dest,
                }
                for row in rows
                if row.sources
            ],
            initial=JobStatus.QUEUED,
            auto_transitions=False,
        )
        self._moves: dict[tuple[JobStatus, Trigger], frozenset[JobStatus]] = {}
        for state in JobStatus:
            for trigger_name in self._machine.get_triggers(state):
                trigger = Trigger(trigger_name)
                dests = {
                    state if t.dest is None else JobStatus[t.dest]
                    for t in self._machine.get_transitions(trigger_name, source=state)
                }
                self._moves[(state, trigger)] = frozenset(dests)

    def allowed_triggers(self, state: JobStatus) -> tuple[Trigger, ...]:
        return tuple(t for t in Trigger if (state, t) in self._moves)

    def destinations(self, state: JobStatus, trigger: Trigger) -> frozenset[JobStatus]:
        return self._moves.get((state, trigger), frozenset())

    def may(self, state: JobStatus, trigger: Trigger) -> bool:
        return (state, trigger) in self._moves

    def check(self, job_id: UUID, state: JobStatus, trigger: Trigger) -> None:
        """Raise ``IllegalTransition`` unless the table allows ``trigger`` now."""
        if not self.may(state, trigger):
            raise IllegalTransition(
                job_id,
                state.value,
                trigger.value,
                [t.value for t in self.allowed_triggers(state)],
            )


@cache
def lifecycle() -> Lifecycle:
    """The lifecycle of the shipped table, built once on first use."""
    return Lifecycle()


def mermaid_diagram(table: Iterable[Transition] = TRANSITIONS) -> str:
    """A mermaid state diagram of the table; parallel edges share one labelled arrow."""
    edges: dict[tuple[str, str], list[str]] = {}
    for row in table:
        for source in row.sources or ("[*]",):
            dest = source if row.dest is None else row.dest
            triggers = edges.setdefault((str(source), str(dest)), [])
            if row.trigger.value not in triggers:
                triggers.append(row.trigger.value)
    lines = ["stateDiagram-v2"]
    lines += [f"    {src} --> {dst} : {', '.join(names)}" for (src, dst), names in edges.items()]
    lines += [f"    {state} --> [*]" for state in JobStatus if state.is_terminal]
    return "\n".join(lines) + "\n"


def markdown_table(table: Iterable[Transition] = TRANSITIONS) -> str:
    """The table as Markdown, for ``docs/lifecycle.md``."""
    lines = ["| trigger | from | to | notes |", "|---|---|---|---|"]
    for row in table:
        sources = ", ".join(row.sources) if row.sources else "(new)"
        dest = "same" if row.dest is None else row.dest.value
        lines.append(f"| {row.trigger} | {sources} | {dest} | {row.note} |")
    return "\n".join(lines) + "\n"
