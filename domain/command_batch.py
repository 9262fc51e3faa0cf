"""Commands on several claimed jobs, decided in turn and stored in one save.

``execute_many`` runs each command as the Ledger's own method would (the same parsing,
lifecycle, fencing by lease, command ids), but decides it on the batch's copy of its
job, so a later command on the same job sees the earlier ones (start, then complete).
Each command is answered on its own: a refusal holds back none of the others. Then
the new events and receipts of all of them are saved at once, in one transaction,
before any answer is given. Should that save conflict (another writer moved a job on,
or a command id was stored meanwhile), nothing of it was stored, and each command is
run again alone, in order, exactly as if it had been sent alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from jobledger.domain.bounds import MAX_COMMAND_BATCH
from jobledger.domain.errors import (
    IdempotencyConflict,
    JobLedgerError,
    TooLarge,
)
from jobledger.domain.job import Job
from jobledger.domain.ledger import DECIDING, Change, JobState, Ledger, Outcome
from jobledger.domain.values import Actor, CommandMeta

# One command: a call of one of the Ledger's methods, e.g. ``lambda: ledger.start(...)``.
Run = Callable[[], Outcome]


def execute_many(
    ledger: Ledger, actor: Actor, commands: Sequence[Run]
) -> list[Outcome | JobLedgerError]:
    """Each command's outcome, or the error that refused it, in the order given. An
    outcome carries its ``job`` only if it is the last of the batch on that job."""
    if len(commands) > MAX_COMMAND_BATCH:
        raise TooLarge(f"commands: {len(commands)} in one batch, more than {MAX_COMMAND_BATCH}")
    batch = _Batch(ledger, actor)
    token = DECIDING.set(batch)
    try:
        answers = [batch.answer(index, run) for index, run in enumerate(commands)]
    finally:
        DECIDING.reset(token)
    if batch.spoiled:
        return _alone(commands)
    try:
        positions = batch.save()
    except IntegrityError:  # nothing was stored
        return _alone(commands)
    return [batch.settled(index, answer, positions) for index, answer in enumerate(answers)]


def _alone(commands: Sequence[Run]) -> list[Outcome | JobLedgerError]:
    answers: list[Outcome | JobLedgerError] = []
    for run in commands:
        try:
            answers.append(run())
        except JobLedgerError as error:
            answers.append(error)
    return answers


class _Batch:
    """The batch's copies of its jobs, what its commands recorded, and their answers."""

    def __init__(self, ledger: Ledger, actor: Actor) -> None:
        self.ledger = ledger
        self.actor = actor
        self.jobs: dict[UUID, Job] = {}
        self.receipts: list[Any] = []  # receipts, and any other aggregate a change returns
        self.index = 0
        self.outcomes: dict[int, Outcome] = {}  # item -> its outcome, decided here
        self.firsts: dict[str, tuple[int, str]] = {}  # command id -> (first item, digest)
        self.spoiled = False  # a refused change left events behind: decide each alone

    def answer(self, index: int, run: Run) -> Outcome | JobLedgerError:
        self.index = index
        try:
            return run()
        except JobLedgerError as error:
            return error

    def decide(
        self, actor: Actor, job_id: UUID, meta: CommandMeta, change: Change, digest: str
    ) -> Outcome:
        """``Ledger._attempt``, with the save left for later; a command id sent earlier
        in this batch is answered as its first item (the Ledger looks for a receipt of an
        earlier request when this refuses)."""
        key = meta.command_id
        if key is not None and key in self.firsts:  # sent twice in this batch
            first, first_digest = self.firsts[key]
            if first_digest != digest:
                raise IdempotencyConflict(key)
            return dataclasses.replace(self.outcomes[first], replayed=True)
        outcome = self._change(actor, job_id, meta, change, digest)
        self.outcomes[self.index] = outcome
        if key is not None:
            self.firsts[key] = (self.index, digest)
        return outcome

    def _change(
        self, actor: Actor, job_id: UUID, meta: CommandMeta, change: Change, digest: str
    ) -> Outcome:
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = self.ledger.get(job_id, tenant=actor.tenant)
        before = len(job.pending_events)
        try:
            also = self.ledger._decide(actor, job, meta, change)
        except JobLedgerError:
            self.spoiled = self.spoiled or len(job.pending_events) != before
            raise
        new = job.pending_events[before:]
        lease_id, receipt = self.ledger._receipt(actor, job, meta, digest, new)
        if receipt is not None:
            self.receipts.append(receipt)
        self.receipts.extend(also)
        return Outcome(job.id, job.version, None, lease_id, state=JobState.of(job))

    def save(self) -> dict[tuple[UUID, int], int]:
        """Everything the batch recorded, in one save; each event's notification id."""
        changed = [job for job in self.jobs.values() if job.pending_events]
        if not changed and not self.receipts:
            return {}
        recordings = self.ledger.save(*changed, *self.receipts)
        return {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }

    def settled(
        self, index: int, answer: Outcome | JobLedgerError, positions: dict[tuple[UUID, int], int]
    ) -> Outcome | JobLedgerError:
        """An item's answer once the save is done: with the log position of its event
        (a replay from a receipt already has one), and the job if no later item moved it
        on."""
        if isinstance(answer, JobLedgerError) or answer.position is not None:
            return answer
        job = self.jobs.get(answer.job_id)
        return dataclasses.replace(
            answer,
            position=positions.get((answer.job_id, answer.version)),
            job=job if job is not None and job.version == answer.version else None,
        )
