"""The job lifecycle: one transition table, and the state machine built from it.

The table is data. The `transitions` machine, the ``IllegalTransition`` messages,
the diagram in ``docs/lifecycle.md`` and the property tests all read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from transitions import Machine

from jobledger.domain.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)
T = TypeVar("T", bound=StrEnum)


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
    CLAIM_TASK = "claim_task"
    RENEW_TASK = "renew_task"
    FINISH_TASK = "finish_task"
    EXPIRE_TASK_LEASE = "expire_task_lease"
    DECIDE = "decide"


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
    # A job of tasks (submitted with a subject and named workers) follows its tasks.
    Transition(
        _T.CLAIM_TASK, (_S.QUEUED, _S.RUNNING), _S.RUNNING, "tasks: running once one executes"
    ),
    Transition(_T.RENEW_TASK, (_S.RUNNING,), None, "tasks: a task's lease is renewed"),
    Transition(_T.FINISH_TASK, (_S.RUNNING,), None, "tasks: successful or failed"),
    Transition(_T.EXPIRE_TASK_LEASE, (_S.RUNNING,), None, "tasks: the task times out"),
    Transition(_T.DECIDE, (_S.RUNNING,), _S.COMPLETED, "tasks: all final, a verdict: the result"),
    Transition(_T.DECIDE, (_S.RUNNING,), _S.FAILED, "tasks: all final, none counts: no_verdict"),
    Transition(_T.CANCEL, (_S.RUNNING,), _S.CANCELLED, "tasks: open tasks are cancelled"),
)

# The triggers only a job of tasks takes (its tasks move it).
TASK_TRIGGERS = frozenset(
    {_T.CLAIM_TASK, _T.RENEW_TASK, _T.FINISH_TASK, _T.EXPIRE_TASK_LEASE, _T.DECIDE}
)

# The states no row leaves: a job there is finished for good.
TERMINAL: frozenset[JobStatus] = frozenset(JobStatus) - {s for t in TRANSITIONS for s in t.sources}


class Moves(Generic[S, T]):
    """The `transitions` state machine over a table, asked what is allowed.

    The machine has no model: an aggregate changes state only by applying events,
    so the machine is consulted, never driven. The job's table and each task's
    (``task_lifecycle.py``) are read the same way.
    """

    def __init__(self, states: type[S], triggers: type[T], table: Iterable[Row]) -> None:
        rows = list(table)
        self._triggers = triggers
        machine = Machine(
            model=None,
            states=states,
            transitions=[
                {"trigger": row.trigger.value, "source": list(row.sources), "dest": row.dest}
                for row in rows
                if row.sources
            ],
            initial=next(iter(states)),
            auto_transitions=False,
        )
        self._moves: dict[tuple[S, T], frozenset[S]] = {}
        for state in states:
            for trigger_name in machine.get_triggers(state):
                dests = {
                    state if t.dest is None else states[t.dest]
                    for t in machine.get_transitions(trigger_name, source=state)
                }
                self._moves[(state, triggers(trigger_name))] = frozenset(dests)

    def allowed_triggers(self, state: S) -> tuple[T, ...]:
        return tuple(t for t in self._triggers if (state, t) in self._moves)

    def destinations(self, state: S, trigger: T) -> frozenset[S]:
        return self._moves.get((state, trigger), frozenset())

    def may(self, state: S, trigger: T) -> bool:
        return (state, trigger) in self._moves


class Lifecycle(Moves[JobStatus, Trigger]):
    """The job's table, and the ``IllegalTransition`` it raises."""

    def __init__(self, table: Iterable[Transition] = TRANSITIONS) -> None:
        super().__init__(JobStatus, Trigger, table)

    def check(
        self, job_id: UUID, state: JobStatus, trigger: Trigger, *, of_tasks: bool = False
    ) -> None:
        """Raise ``IllegalTransition`` unless the table allows ``trigger`` now; the
        triggers it names exclude those of tasks unless the job has tasks."""
        if not self.may(state, trigger):
            allowed = self.allowed_triggers(state)
            raise IllegalTransition(
                job_id,
                state.value,
                trigger.value,
                [t.value for t in allowed if of_tasks or t not in TASK_TRIGGERS],
            )


@cache
def lifecycle() -> Lifecycle:
    """The lifecycle of the shipped table, built once on first use."""
    return Lifecycle()


class Row(Protocol):
    """A row of a transition table: the job's, or a task's (``task_lifecycle.py``)."""

    @property
    def trigger(self) -> StrEnum: ...
    @property
    def sources(self) -> tuple[StrEnum, ...]: ...
    @property
    def dest(self) -> StrEnum | None: ...
    @property
    def note(self) -> str: ...


def mermaid_diagram(table: Iterable[Row] = TRANSITIONS, terminal: Iterable[StrEnum] = ()) -> str:
    """A mermaid state diagram of the table; parallel edges share one labelled arrow."""
    rows = list(table)
    edges: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for source in row.sources or ("[*]",):
            dest = source if row.dest is None else row.dest
            triggers = edges.setdefault((str(source), str(dest)), [])
            if row.trigger.value not in triggers:
                triggers.append(row.trigger.value)
    ends = list(terminal) or [state for state in JobStatus if state.is_terminal]
    lines = ["stateDiagram-v2"]
    lines += [f"    {src} --> {dst} : {', '.join(names)}" for (src, dst), names in edges.items()]
    lines += [f"    {state} --> [*]" for state in ends]
    return "\n".join(lines) + "\n"


def markdown_table(table: Iterable[Row] = TRANSITIONS) -> str:
    """The table as Markdown, for ``docs/lifecycle.md``."""
    lines = ["| trigger | from | to | notes |", "|---|---|---|---|"]
    for row in table:
        sources = ", ".join(row.sources) if row.sources else "(new)"
        dest = "same" if row.dest is None else row.dest.value
        lines.append(f"| {row.trigger} | {sources} | {dest} | {row.note} |")
    return "\n".join(lines) + "\n"
