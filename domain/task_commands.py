"""The payloads of the task commands, validated strictly before anything is loaded."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobledger.domain.bounds import (
    DEFAULT_LEASE_SECONDS,
    MAX_ANALYSES,
    MAX_TASK_WORKERS,
    AnalysisId,
    ErrorCode,
    LeaseId,
    LeaseSeconds,
    Message,
    Subject,
    TaskScore,
    TaskSubject,
)
from jobledger.domain.commands import Command
from jobledger.domain.errors import InvalidCommand

# What a worker may set a task to: executing renews its lease; the others are final.
UpdateState = Literal["executing", "successful", "failed"]


class CreateTasks(Command):
    subject: TaskSubject
    workers: list[Subject] = Field(min_length=1, max_length=MAX_TASK_WORKERS)

    def check(self) -> CreateTasks:
        seen: set[str] = set()
        for worker in self.workers:
            if worker in seen:
                raise InvalidCommand(f"workers: {worker!r} is named twice (one task per worker)")
            seen.add(worker)
        return self


class ClaimTask(Command):
    lease_seconds: LeaseSeconds = DEFAULT_LEASE_SECONDS


class UpdateTask(Command):
    task_id: AnalysisId
    lease_id: LeaseId
    state: UpdateState
    score: TaskScore | None = None
    analyses: list[AnalysisId] = Field(default_factory=list, max_length=MAX_ANALYSES)
    error_code: ErrorCode | None = None
    error_message: Message = ""

    def check(self) -> UpdateTask:
        """The fields each state takes: a score and analyses, an error, or neither."""
        if self.state == "successful" and self.score is None:
            raise InvalidCommand("score: a successful task needs a score (0 to 100, or -1)")
        if self.state != "successful" and (self.score is not None or self.analyses):
            raise InvalidCommand(f"score: only a successful task has one (state {self.state})")
        if self.state == "failed" and self.error_code is None:
            raise InvalidCommand("error.code: a failed task needs an error code")
        if self.state != "failed" and self.error_code is not None:
            raise InvalidCommand(f"error: only a failed task has one (state {self.state})")
        return self


class ExpireTaskLease(Command):
    task_id: AnalysisId
