"""The Ledger's commands on tasks: ``ledger.tasks.claim(...)`` and the rest.

Each runs like every job command (validated payload, command id, race retries,
fencing); a success is also written to the subject's earlier results in the same
write, and the verdict looks those up before it is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from jobledger.domain import task_work
from jobledger.domain.bounds import DEFAULT_LEASE_SECONDS
from jobledger.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    JobNotFound,
    NotNamedWorker,
)
from jobledger.domain.subject_results import SubjectResults, subject_results_id
from jobledger.domain.task_commands import ClaimTask, ExpireTaskLease, UpdateTask
from jobledger.domain.task_events import TaskSucceeded
from jobledger.domain.values import Actor, CommandMeta
from jobledger.domain.verdict import EarlierResult

if TYPE_CHECKING:
    from jobledger.domain.job import EventContext, Job
    from jobledger.domain.ledger import Ledger, Outcome

# Why claiming one candidate's task fails that another candidate may still grant.
TASK_CLAIM_LOST = (IllegalTransition, ConcurrencyConflict, JobNotFound, NotNamedWorker)


class TaskCommands:
    """Beside the job commands, on the same Ledger and the same rules."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def claim(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """Take the caller's own task of the job (the worker is the actor's subject);
        the outcome carries the task's lease id."""
        command = ClaimTask.parse(lease_seconds=lease_seconds)
        return self.ledger._execute(actor, job_id, meta, command, _claiming(actor, command))

    def claim_next(
        self,
        actor: Actor,
        candidates: Iterable[UUID],
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        meta: CommandMeta | None = None,
    ) -> Outcome | None:
        """The caller's task in the first of ``candidates`` that has one enqueued; None
        if none has. A repeated command id returns the first claim."""
        meta = meta or CommandMeta()
        command = ClaimTask.parse(lease_seconds=lease_seconds)
        digest = self.ledger._digest(meta, {"next": True, **command.digest_payload()})
        earlier = self.ledger._earlier_outcome(actor, meta, digest)
        if earlier is not None:
            return earlier
        for job_id in candidates:
            try:
                return self.ledger._attempt(actor, job_id, meta, _claiming(actor, command), digest)
            except TASK_CLAIM_LOST:
                continue
        return None

    def update(
        self,
        actor: Actor,
        job_id: UUID,
        task_id: str,
        *,
        lease_id: str,
        state: str,
        score: int | None = None,
        analyses: Sequence[str] = (),
        error_code: str | None = None,
        error_message: str = "",
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """``executing`` renews the lease; ``successful`` (score, analyses) and ``failed``
        (error) are final; the last final task brings the verdict."""
        command = UpdateTask.parse(
            task_id=task_id,
            lease_id=lease_id,
            state=state,
            score=score,
            analyses=list(analyses),
            error_code=error_code,
            error_message=error_message,
        ).check()

        def update(job: Job, ctx: EventContext) -> Sequence[Aggregate]:
            task_work.update_task(job, ctx, command, self.earlier_results)
            return self._record_successes(job)

        return self.ledger._execute(actor, job_id, meta, command, update)

    def expire_lease(
        self, actor: Actor, job_id: UUID, task_id: str, *, meta: CommandMeta | None = None
    ) -> Outcome:
        """Recorded by the lease sweeper: the task times out."""
        command = ExpireTaskLease.parse(task_id=task_id)
        return self.ledger._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: task_work.expire_task_lease(
                job, ctx, command.task_id, self.earlier_results
            ),
        )

    def earlier_results(self, job: Job) -> dict[str, EarlierResult]:
        """Each worker's latest successful result on the job's subject from an earlier job."""
        found = {}
        for task in job.tasks.values():
            index = self._subject_results(job.tenant, job.subject or "", task["worker"])
            if index is None:
                continue
            result = index.latest(task["worker"], before=job.created_on, job_id=str(job.id))
            if result is not None:
                found[task["worker"]] = result
        return found

    def _subject_results(self, tenant: str, subject: str, worker: str) -> SubjectResults | None:
        try:
            index: object = self.ledger.repository.get(subject_results_id(tenant, subject, worker))
        except AggregateNotFoundError:
            return None
        return index if isinstance(index, SubjectResults) else None

    def _record_successes(self, job: Job) -> list[Aggregate]:
        """The job's new successes, written to the worker's results on its subject."""
        indexes: list[Aggregate] = []
        for event in job.pending_events:
            if not isinstance(event, TaskSucceeded) or job.subject is None:
                continue
            index = self._subject_results(job.tenant, job.subject, event.worker)
            if index is None:
                index = SubjectResults.open(job.tenant, job.subject, event.worker)
            index.record(
                worker=event.worker,
                job_id=str(job.id),
                task_id=event.task_id,
                score=event.score,
                job_submitted_at=job.created_on,
            )
            indexes.append(index)
        return indexes


def _claiming(actor: Actor, command: ClaimTask) -> Callable[[Job, EventContext], None]:
    def claim(job: Job, ctx: EventContext) -> None:
        task_work.claim_task(
            job,
            ctx,
            worker=actor.subject,
            lease_id=uuid4().hex,
            lease_seconds=command.lease_seconds,
        )

    return claim
