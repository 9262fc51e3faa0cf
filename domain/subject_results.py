"""Earlier results by subject: where a failed or timed-out task finds its stand-in.

One aggregate per (tenant, subject, worker) lists that worker's successful results on
that subject. It is saved in the same write as the success, so the verdict of a later
job looks it up from the event store itself, never from a read model that may lag; one
per worker, so workers finishing tasks on the same subject at once never contend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from jobledger.domain.verdict import EarlierResult

SUBJECT_NAMESPACE = UUID("0f4a9b7e-51d2-4c3b-8e0a-6d2c7f1b9a44")


def subject_results_id(tenant: str, subject: str, worker: str) -> UUID:
    return uuid5(SUBJECT_NAMESPACE, f"{tenant}\x00{subject}\x00{worker}")


class SubjectResults(Aggregate):
    class Opened(Aggregate.Created):
        tenant: str
        subject: str
        worker: str

        def apply(self, index: SubjectResults) -> None:
            index.tenant = self.tenant
            index.subject = self.subject
            index.worker = self.worker

    class ResultRecorded(Aggregate.Event):
        worker: str
        job_id: str
        task_id: str
        score: int
        job_submitted_at: datetime

        def apply(self, index: SubjectResults) -> None:
            index.results.append(
                {
                    "worker": self.worker,
                    "job_id": self.job_id,
                    "task_id": self.task_id,
                    "score": self.score,
                    "job_submitted_at": self.job_submitted_at,
                }
            )

    def __init__(self) -> None:
        self.tenant = ""
        self.subject = ""
        self.worker = ""
        self.results: list[dict[str, Any]] = []

    @classmethod
    def open(cls, tenant: str, subject: str, worker: str) -> SubjectResults:
        return cls._create(
            cls.Opened,
            id=subject_results_id(tenant, subject, worker),
            tenant=tenant,
            subject=subject,
            worker=worker,
        )

    def record(
        self, *, worker: str, job_id: str, task_id: str, score: int, job_submitted_at: datetime
    ) -> None:
        self.trigger_event(
            self.ResultRecorded,
            worker=worker,
            job_id=job_id,
            task_id=task_id,
            score=score,
            job_submitted_at=job_submitted_at,
        )

    def latest(self, worker: str, *, before: datetime, job_id: str) -> EarlierResult | None:
        """The worker's most recently recorded result from a job submitted before
        ``before`` (an earlier job), other than ``job_id``."""
        for result in reversed(self.results):
            if (
                result["worker"] == worker
                and result["job_id"] != job_id
                and result["job_submitted_at"] < before
            ):
                return EarlierResult(result["job_id"], result["task_id"], result["score"])
        return None
