"""The facts recorded about a job's tasks, and the verdict drawn from them.

Tasks live inside the Job aggregate (``job.tasks``, one entry per named worker), so
a task's change, the job's status that follows it and the verdict are recorded in
one atomic write: no reader ever sees every task final and no verdict. Like every
job event these record who, under which workflow and when, and ``apply`` never
raises.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from jobledger.domain.events import JobCompleted, JobEvent, JobFailed
from jobledger.domain.lifecycle import JobStatus, Trigger
from jobledger.domain.task_lifecycle import TaskState

if TYPE_CHECKING:
    from jobledger.domain.job import Job


def _task(job: Job, task_id: str) -> dict[str, Any]:
    """The task's entry; an unknown id (never recorded so) gets a blank one."""
    return job.tasks.setdefault(task_id, {"task_id": task_id, "worker": "", "state": "enqueued"})


def _settle(job: Job, task_id: str, at: datetime, state: TaskState) -> dict[str, Any]:
    task = _task(job, task_id)
    task.update(state=state.value, finished_at=at, lease_id=None)
    task["lease_expires_at"] = None
    return task


class TasksCreated(JobEvent):
    """One task per named worker, recorded with the submission."""

    trigger = Trigger.SUBMIT

    subject: str
    workers: list[str]
    task_ids: list[str]

    def apply(self, job: Job) -> None:
        job.subject = self.subject
        job.tasks = {
            task_id: {
                "task_id": task_id,
                "worker": worker,
                "state": TaskState.ENQUEUED.value,
                "lease_id": None,
                "lease_expires_at": None,
                "lease_seconds": None,
                "started_at": None,
                "finished_at": None,
                "score": None,
                "analyses": [],
                "error": None,
            }
            for task_id, worker in zip(self.task_ids, self.workers, strict=False)
        }


class TaskClaimed(JobEvent):
    """The named worker took its task: it executes, and the job runs."""

    trigger = Trigger.CLAIM_TASK
    moves_to = JobStatus.RUNNING

    task_id: str

    worker: str
    lease_id: str
    lease_expires_at: datetime

    def apply(self, job: Job) -> None:
        job.status_value = self.next_status(job.status).value
        if job.started_at is None:
            job.started_at = self.timestamp
        task = _task(job, self.task_id)
        task.update(
            state=TaskState.EXECUTING.value,
            lease_id=self.lease_id,
            lease_expires_at=self.lease_expires_at,
            lease_seconds=(self.lease_expires_at - self.timestamp).total_seconds(),
            started_at=self.timestamp,
        )


class TaskLeaseRenewed(JobEvent):
    trigger = Trigger.RENEW_TASK

    task_id: str

    lease_expires_at: datetime

    def apply(self, job: Job) -> None:
        _task(job, self.task_id)["lease_expires_at"] = self.lease_expires_at


class TaskSucceeded(JobEvent):
    trigger = Trigger.FINISH_TASK

    task_id: str

    worker: str
    score: int
    analyses: list[str]

    def apply(self, job: Job) -> None:
        task = _settle(job, self.task_id, self.timestamp, TaskState.SUCCESSFUL)
        task.update(score=self.score, analyses=list(self.analyses))


class TaskFailed(JobEvent):
    trigger = Trigger.FINISH_TASK

    task_id: str

    worker: str
    code: str
    message: str

    def apply(self, job: Job) -> None:
        task = _settle(job, self.task_id, self.timestamp, TaskState.FAILED)
        task["error"] = {"code": self.code, "message": self.message}


class TaskTimedOut(JobEvent):
    """Recorded by the lease sweeper: the task's lease ran out."""

    trigger = Trigger.EXPIRE_TASK_LEASE

    task_id: str

    worker: str
    lease_id: str

    def apply(self, job: Job) -> None:
        _settle(job, self.task_id, self.timestamp, TaskState.TIMEOUT)


class TaskCancelled(JobEvent):
    """The job was cancelled while this task was not final."""

    trigger = Trigger.CANCEL

    task_id: str

    worker: str
    reason: str

    def apply(self, job: Job) -> None:
        _settle(job, self.task_id, self.timestamp, TaskState.CANCELLED)


class VerdictReached(JobCompleted):
    """Every task is final and a score counted: the verdict is the job's result.
    ``counted`` lists each counted score and where it came from."""

    trigger: ClassVar[Trigger] = Trigger.DECIDE

    score: int
    counted: list[dict[str, Any]]

    def apply(self, job: Job) -> None:
        super().apply(job)
        job.verdict = {"score": self.score, "counted": [dict(c) for c in self.counted]}


class NoVerdictReached(JobFailed):
    """Every task is final and nothing counted: the job failed with ``no_verdict``."""

    trigger: ClassVar[Trigger] = Trigger.DECIDE


TASK_EVENT_TYPES: tuple[type[JobEvent], ...] = (
    TasksCreated,
    TaskClaimed,
    TaskLeaseRenewed,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskCancelled,
    VerdictReached,
    NoVerdictReached,
)
