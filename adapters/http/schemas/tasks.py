"""Tasks and verdicts as the API takes and answers them; the bounds are the domain's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StrictStr

from jobledger.adapters.http.schemas.jobs import ApiModel
from jobledger.adapters.http.schemas.workers import CommandId
from jobledger.domain.bounds import (
    DEFAULT_LEASE_SECONDS,
    MAX_ANALYSES,
    AnalysisId,
    ErrorCode,
    LeaseId,
    LeaseSeconds,
    Message,
    TaskScore,
)
from jobledger.domain.task_commands import UpdateState
from jobledger.domain.task_lifecycle import TaskState


class TaskError(ApiModel):
    code: ErrorCode
    message: Message = ""


class UpdateTask(ApiModel):
    """``executing`` renews the lease; ``successful`` carries a score (0-100, or -1
    uncertain) and analysis ids; ``failed`` carries an error."""

    state: UpdateState
    score: TaskScore | None = None
    analyses: Annotated[list[AnalysisId], Field(max_length=MAX_ANALYSES)] = []
    error: TaskError | None = None
    lease_id: LeaseId
    command_id: CommandId


class ClaimTask(ApiModel):
    lease_seconds: LeaseSeconds = DEFAULT_LEASE_SECONDS
    command_id: CommandId | None = Field(
        default=None, description="a repeat with the same id gets the first claim back"
    )


class Task(ApiModel):
    task_id: StrictStr
    job_id: UUID
    worker: StrictStr
    subject: StrictStr
    state: TaskState
    score: int | None = Field(description="0-100, or -1 uncertain; set once successful")
    analyses: list[str]
    error: TaskError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None
    version: int = Field(description="the job version of the task's last change")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Task:
        error = None
        if row.get("error_code") is not None:
            error = TaskError(code=row["error_code"], message=row.get("error_message") or "")
        return cls(
            task_id=row["task_id"],
            job_id=UUID(str(row["job_id"])),
            worker=row["worker"],
            subject=row["subject"],
            state=TaskState(row["state"]),
            score=row["score"],
            analyses=list(row["analyses"]),
            error=error,
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            lease_expires_at=row["lease_expires_at"],
            version=row["version"],
        )


class CountedScore(ApiModel):
    worker: str
    task_id: str
    score: int
    source: str = Field(description="task: this task's result; earlier: an earlier job's")
    source_job_id: str
    source_task_id: str


class Verdict(ApiModel):
    score: int | None = Field(description="the verdict; -1 uncertain; null: no verdict")
    uncertain: bool
    counted: list[CountedScore]
    decided_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Verdict:
        return cls(
            score=row["score"],
            uncertain=row["score"] == -1,
            counted=[CountedScore.model_validate(c) for c in row["counted"]],
            decided_at=row["decided_at"],
        )


class JobTasks(ApiModel):
    tasks: list[Task]
    verdict: Verdict | None = Field(description="null until every task is final")
    position: int = Field(description="the log position the read model had reached")


class TaskAnswer(ApiModel):
    """The task after a worker's command, where its job stands, and the verdict once
    decided."""

    task: Task
    job_status: str
    version: int
    verdict: Verdict | None


class ClaimedTask(TaskAnswer):
    lease_id: str = Field(description="the fencing token: every update must carry it")
    correlation_id: str
    type: str


class WorkerResults(ApiModel):
    """One worker's tasks by outcome and its scores (uncertain ones counted apart)."""

    worker: str
    tasks: int
    successful: int
    failed: int
    timeouts: int
    cancelled: int
    uncertain: int
    score_average: float | None = Field(description="mean of its scores 0-100")
    score_max: int | None


class VerdictCounts(ApiModel):
    decided: int = Field(description="jobs of tasks whose every task is final")
    verdicts: int
    uncertain: int
    no_verdict: int


class TaskStatistics(ApiModel):
    workers: list[WorkerResults]
    verdicts: VerdictCounts
    position: int = Field(description="the log position the read model had reached")
