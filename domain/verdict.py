"""The verdict rule: one score drawn from a job's tasks, and why.

- a successful task's score counts;
- a failed or timed-out task counts the most recent successful result of the same
  worker on the same subject from an earlier job, if there is one, else nothing;
- a cancelled task is left out;
- the verdict is the highest counted score other than -1; when every counted score
  is -1 it is uncertain (-1); when nothing counts there is no verdict.

Pure: the Ledger looks the earlier results up before it decides, and the verdict
event records every counted score with where it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jobledger.domain.bounds import UNCERTAIN
from jobledger.domain.task_lifecycle import TaskState

STANDS_IN = (TaskState.FAILED, TaskState.TIMEOUT)  # an earlier result may stand in


@dataclass(frozen=True)
class EarlierResult:
    """A worker's successful result on the subject, from another job."""

    job_id: str
    task_id: str
    score: int


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    worker: str
    state: TaskState
    score: int | None = None


@dataclass(frozen=True)
class CountedScore:
    """One score the verdict counted: from this task, or task ``task_id`` of job ``job_id``."""

    worker: str
    task_id: str  # the task the verdict is about
    score: int
    source: str  # "task" (this task's own result) or "earlier"
    source_job_id: str
    source_task_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "task_id": self.task_id,
            "score": self.score,
            "source": self.source,
            "source_job_id": self.source_job_id,
            "source_task_id": self.source_task_id,
        }


@dataclass(frozen=True)
class Verdict:
    score: int  # -1: uncertain
    counted: tuple[CountedScore, ...]

    @property
    def uncertain(self) -> bool:
        return self.score == UNCERTAIN


def counted_scores(
    job_id: str, tasks: Iterable[TaskOutcome], earlier: Mapping[str, EarlierResult]
) -> list[CountedScore]:
    """What counts of each task; ``earlier`` maps a worker to its latest earlier result."""
    counted = []
    for task in tasks:
        if task.state is TaskState.SUCCESSFUL and task.score is not None:
            counted.append(
                CountedScore(task.worker, task.task_id, task.score, "task", job_id, task.task_id)
            )
        elif task.state in STANDS_IN and (found := earlier.get(task.worker)) is not None:
            counted.append(
                CountedScore(
                    task.worker, task.task_id, found.score, "earlier", found.job_id, found.task_id
                )
            )
    return counted


def decide(
    job_id: str, tasks: Iterable[TaskOutcome], earlier: Mapping[str, EarlierResult]
) -> Verdict | None:
    """The verdict of final tasks, or None when nothing counts."""
    counted = counted_scores(job_id, tasks, earlier)
    if not counted:
        return None
    certain = [c.score for c in counted if c.score != UNCERTAIN]
    return Verdict(max(certain) if certain else UNCERTAIN, tuple(counted))
