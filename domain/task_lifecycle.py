"""The task lifecycle: a transition table of its own, enforced like the job's.

A job submitted with a subject and named workers holds one task per worker. The
table is data: the machine below, the ``IllegalTaskTransition`` messages, the
diagram in ``docs/lifecycle.md`` and the tests read it. How the job's own status
follows its tasks is written in the job's table (the ``*_task`` and ``decide`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from uuid import UUID

from jobledger.domain.errors import IllegalTransition
from jobledger.domain.lifecycle import Moves


class TaskState(StrEnum):
    ENQUEUED = "enqueued"
    EXECUTING = "executing"
    SUCCESSFUL = "successful"
    TIMEOUT = "timeout"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL


class TaskTrigger(StrEnum):
    CREATE = "create"
    CLAIM = "claim"
    RENEW = "renew"
    SUCCEED = "succeed"
    FAIL = "fail"
    EXPIRE_LEASE = "expire_lease"
    CANCEL = "cancel"


@dataclass(frozen=True)
class TaskTransition:
    """One row of the table. ``dest=None`` means the task stays in its state."""

    trigger: TaskTrigger
    sources: tuple[TaskState, ...]
    dest: TaskState | None
    note: str


_S = TaskState
_T = TaskTrigger

TASK_TRANSITIONS: tuple[TaskTransition, ...] = (
    TaskTransition(_T.CREATE, (), _S.ENQUEUED, "one per named worker, at submit"),
    TaskTransition(_T.CLAIM, (_S.ENQUEUED,), _S.EXECUTING, "the named worker; lease id, deadline"),
    TaskTransition(_T.RENEW, (_S.EXECUTING,), None, "renews the lease (state executing)"),
    TaskTransition(_T.SUCCEED, (_S.EXECUTING,), _S.SUCCESSFUL, "score 0-100 or -1, analysis ids"),
    TaskTransition(_T.FAIL, (_S.EXECUTING,), _S.FAILED, "error code and message"),
    TaskTransition(_T.EXPIRE_LEASE, (_S.EXECUTING,), _S.TIMEOUT, "recorded by the lease sweeper"),
    TaskTransition(_T.CANCEL, (_S.ENQUEUED, _S.EXECUTING), _S.CANCELLED, "the job was cancelled"),
)

# The states no row leaves: a task there is final.
FINAL: frozenset[TaskState] = frozenset(TaskState) - {
    s for t in TASK_TRANSITIONS for s in t.sources
}


class IllegalTaskTransition(IllegalTransition):
    """The task table does not allow this trigger in the task's current state."""

    code = "illegal_task_transition"

    def __init__(
        self, job_id: UUID, task_id: str, current_state: str, trigger: str, allowed: list[str]
    ) -> None:
        super().__init__(job_id, current_state, trigger, allowed)
        allowed_text = ", ".join(allowed) if allowed else "none (the task is final)"
        self.args = (
            f"task {task_id} of job {job_id} is {current_state}: {trigger} is not allowed; "
            f"allowed now: {allowed_text}",
        )
        self.task_id = task_id


class TaskLifecycle(Moves[TaskState, TaskTrigger]):
    """The task table, and the ``IllegalTaskTransition`` it raises."""

    def __init__(self) -> None:
        super().__init__(TaskState, TaskTrigger, TASK_TRANSITIONS)

    def check(self, job_id: UUID, task_id: str, state: TaskState, trigger: TaskTrigger) -> None:
        """Raise ``IllegalTaskTransition`` unless the task table allows ``trigger`` now."""
        if not self.may(state, trigger):
            allowed = [t.value for t in self.allowed_triggers(state)]
            raise IllegalTaskTransition(job_id, task_id, state.value, trigger.value, allowed)


@cache
def task_lifecycle() -> TaskLifecycle:
    return TaskLifecycle()
