"""The Ledger: the one service through which jobs are changed and read.

Each command's payload is validated first (``commands.py``); then the job is
loaded, the aggregate checks the lifecycle and records, and the ledger saves
once. A stated ``expected_version`` makes the write conditional; without one, a
write that loses a race is re-validated against the new state and retried. A
``command_id`` makes the command idempotent through a durable receipt.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from jobledger.domain import commands as cmd
from jobledger.domain.bounds import DEFAULT_LEASE_SECONDS, MAX_SUBMIT_BATCH, check_version
from jobledger.domain.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobLedgerError,
    JobNotFound,
    RetryNotDue,
    TooLarge,
)
from jobledger.domain.events import JobEvent
from jobledger.domain.history import StatusChange, status_history
from jobledger.domain.job import EventContext, Job
from jobledger.domain.pricing import PriceBook, Tokens
from jobledger.domain.receipts import CommandReceipt, fingerprint, receipt_id
from jobledger.domain.results import parse_job_type, validate_result
from jobledger.domain.retries import RetryPolicy
from jobledger.domain.steps import AppendSteps, step_record
from jobledger.domain.subject_results import SubjectResults
from jobledger.domain.task_commands import CreateTasks
from jobledger.domain.task_events import TaskClaimed
from jobledger.domain.task_ledger import TaskCommands
from jobledger.domain.task_work import create_tasks
from jobledger.domain.values import Actor, CommandMeta, parse_spec

Clock = Callable[[], datetime]
# A change records on the job; it may return other aggregates to save in the same write.
Change = Callable[[Job, EventContext], Sequence[Aggregate] | None]
RACE_RETRIES = 5
# Loads of one aggregate from the cache are taken one at a time (by stripe of ids):
# fast-forwarding updates the cached copy in place, and another thread must not
# copy it halfway through.
LOAD_STRIPES = 64
# Why a claim of a candidate can fail that another candidate may still succeed.
CLAIM_LOST = (IllegalTransition, ConcurrencyConflict, RetryNotDue, JobNotFound)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Decider(Protocol):
    """Decides a command without saving it: a batch of commands (``command_batch.py``)."""

    def decide(
        self, actor: Actor, job_id: UUID, meta: CommandMeta, change: Change, digest: str
    ) -> Outcome: ...


# The batch whose commands this thread is deciding, if any: while it is set, a command
# is decided on the batch's copy of its job and saved with the batch's others.
DECIDING: ContextVar[Decider | None] = ContextVar("deciding", default=None)


@dataclass(frozen=True)
class JobState:
    """What a worker needs to know after each command: where the job stands, how long
    the lease runs, whether to stop, and when a retry may be claimed."""

    status: str
    attempt: int
    max_attempts: int
    lease_expires_at: datetime | None
    cancellation_requested: bool
    not_before: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobState:
        return cls(
            job.status.value,
            job.attempt,
            job.max_attempts,
            job.lease_expires_at,
            job.cancellation_requested,
            job.not_before,
        )


@dataclass(frozen=True)
class Outcome:
    """What a command did: the job, its new version, and a log position to wait for.

    ``lease_id`` is the fencing token a claim grants. ``replayed`` is true when
    the command id was seen before and nothing new was recorded; ``position`` is
    None when nothing was recorded because nothing needed to be.
    """

    job_id: UUID
    version: int
    position: int | None
    lease_id: str | None = None
    replayed: bool = False
    state: JobState | None = None  # the job just after the command (None: not loaded)
    job: Job | None = field(default=None, compare=False, repr=False)  # the same, whole


@dataclass(frozen=True)
class Submission:
    """One job to submit: ``Ledger.submit``'s arguments, for ``submit_many``."""

    job_type: str
    investigation_id: str | None = None
    priority: int = 5
    max_attempts: int = 3
    pool: str | None = None
    inputs: Sequence[Mapping[str, Any]] = ()
    config: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    subject: str | None = None  # with workers: a job of tasks
    workers: Sequence[str] = ()
    meta: CommandMeta = field(default_factory=CommandMeta)


def _answer(
    answers: list[Outcome | JobLedgerError | int],
    stored: dict[int, Outcome | JobLedgerError],
    index: int,
) -> Outcome | JobLedgerError:
    """An item's answer: its own, or (a repeated command id) the first item's, replayed."""
    answer = answers[index]
    if not isinstance(answer, int):
        return answer
    if answer == index:
        return stored[index]
    first = _answer(answers, stored, answer)
    return dataclasses.replace(first, replayed=True) if isinstance(first, Outcome) else first


class Ledger(Application[UUID]):
    """Jobs are kept in memory once loaded (eventsourcing's aggregate cache, least
    recently used first out): a command loads only the events recorded since, by this
    process or any other (fast-forward), and works on a copy, so the cache only ever
    holds what the store holds and a refused or conflicting command leaves it as it
    was. ``AGGREGATE_CACHE_MAXSIZE`` in ``env`` sizes it; an empty value turns it off."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Job: 100, SubjectResults: 100}
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",  # never trust the cache over the store
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        price_book: PriceBook,
        clock: Clock = utc_now,
        retry: RetryPolicy | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(env)
        self.price_book = price_book
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.draw = draw  # the jitter of retry back-offs, in [0, 1)
        self.tasks = TaskCommands(self)  # the commands of jobs of tasks
        self._loading = [threading.Lock() for _ in range(LOAD_STRIPES)]

    # -- commands ---------------------------------------------------------------

    def submit(
        self,
        actor: Actor,
        job_type: str,
        *,
        investigation_id: str | None = None,
        priority: int = 5,
        max_attempts: int = 3,
        pool: str | None = None,
        inputs: Sequence[Mapping[str, Any]] = (),
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        subject: str | None = None,
        workers: Sequence[str] = (),
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """With ``subject`` and ``workers``, a job of tasks: one task per named worker."""
        item = Submission(
            job_type,
            investigation_id=investigation_id,
            priority=priority,
            max_attempts=max_attempts,
            pool=pool,
            inputs=inputs,
            config=config,
            metadata=metadata,
            subject=subject,
            workers=workers,
            meta=meta or CommandMeta(),
        )
        return self.submit_one(actor, item)

    def submit_one(self, actor: Actor, item: Submission) -> Outcome:
        """``submit``, with its arguments as one ``Submission`` (as the API maps them)."""
        job, digest, earlier = self._submitted(actor, item)
        if earlier is not None:
            return earlier
        outcome = self._save(actor, job, item.meta, digest)
        if not outcome.replayed:
            self._keep(job)
        return outcome

    def submit_many(
        self, actor: Actor, submissions: Sequence[Submission]
    ) -> list[Outcome | JobLedgerError]:
        """Submit several jobs, each answered on its own (its outcome, or the error that
        refused it, in the order given), the new ones stored in one transaction. An item
        whose command id was seen before is answered as a repeat, as by ``submit``, and so
        is a later item of the batch with an earlier one's command id. Should another
        request store one of these command ids meanwhile, each is submitted alone."""
        if len(submissions) > MAX_SUBMIT_BATCH:
            raise TooLarge(f"jobs: {len(submissions)} in one batch, more than {MAX_SUBMIT_BATCH}")
        answers: list[Outcome | JobLedgerError | int] = []  # int: as the item at that index
        fresh: list[tuple[int, Job, str]] = []
        seen: dict[str, tuple[int, str]] = {}  # command id -> (first item, its digest)
        for index, item in enumerate(submissions):
            try:
                job, digest, earlier = self._submitted(actor, item)
                key = item.meta.command_id
                if key is not None and key in seen:
                    if seen[key][1] != digest:
                        raise IdempotencyConflict(key)
                    answers.append(seen[key][0])
                    continue
                if key is not None:
                    seen[key] = (index, digest)
                answers.append(earlier if earlier is not None else index)
                if earlier is None:
                    fresh.append((index, job, digest))
            except JobLedgerError as error:
                answers.append(error)
        stored = self._save_together(actor, fresh, submissions)
        return [_answer(answers, stored, index) for index in range(len(answers))]

    def _submitted(self, actor: Actor, item: Submission) -> tuple[Job, str, Outcome | None]:
        """A submit's new job and fingerprint, and its first outcome if it is a repeat."""
        kind = parse_job_type(item.job_type)
        spec = parse_spec(
            job_type=kind,
            investigation_id=item.investigation_id,
            priority=item.priority,
            max_attempts=item.max_attempts,
            pool=item.pool,
            inputs=list(item.inputs),
            config=dict(item.config or {}),
            metadata=dict(item.metadata or {}),
        )
        payload = {"command": "Submit", **spec.model_dump(mode="json")}
        tasks = None
        if item.subject is not None or item.workers:
            tasks = CreateTasks.parse(subject=item.subject, workers=list(item.workers)).check()
            payload["tasks"] = tasks.model_dump(mode="json")
        digest = self._digest(item.meta, payload)
        earlier = self._earlier_outcome(actor, item.meta, digest)
        ctx = self._context(actor, item.meta)
        job = Job.submit(ctx, spec, kind)
        if tasks is not None:
            create_tasks(job, ctx, tasks.subject, tasks.workers)
        return job, digest, earlier

    def _save_together(
        self, actor: Actor, fresh: list[tuple[int, Job, str]], submissions: Sequence[Submission]
    ) -> dict[int, Outcome | JobLedgerError]:
        """The new jobs and their receipts in one save; if a command id was taken
        meanwhile (nothing was stored), each is submitted alone."""
        if not fresh:
            return {}
        objects: list[Any] = []
        for index, job, digest in fresh:
            meta = submissions[index].meta
            objects.append(job)
            if meta.command_id is not None:
                objects.append(
                    CommandReceipt.accept(
                        actor.tenant, meta.command_id, digest, job.id, job.version, None
                    )
                )
        try:
            recordings = self.save(*objects)
        except IntegrityError:
            alone: dict[int, Outcome | JobLedgerError] = {}
            for index, _, _ in fresh:
                try:
                    alone[index] = self.submit_one(actor, submissions[index])
                except JobLedgerError as error:
                    alone[index] = error
            return alone
        positions: dict[UUID, int] = {}
        for recording in recordings:
            originator = recording.domain_event.originator_id
            positions[originator] = max(positions.get(originator, 0), recording.notification.id)
        stored: dict[int, Outcome | JobLedgerError] = {}
        for index, job, _ in fresh:
            self._keep(job)
            stored[index] = Outcome(
                job.id, job.version, positions.get(job.id), state=JobState.of(job), job=job
            )
        return stored

    def _keep(self, job: Job) -> None:
        """A job just stored, kept as it is: the claim that follows need not rebuild it."""
        if self.repository.cache is not None:
            self.repository.cache.put(job.id, copy.deepcopy(job))

    def claim(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        agent: str,
        pool: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """Take a queued job; the outcome carries the new lease id."""
        command = cmd.Claim.parse(agent=agent, pool=pool, lease_seconds=lease_seconds)
        return self._execute(actor, job_id, meta, command, _claiming(command))

    def claim_next(
        self,
        actor: Actor,
        candidates: Iterable[UUID],
        *,
        agent: str,
        pool: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        meta: CommandMeta | None = None,
    ) -> Outcome | None:
        """Claim the first of ``candidates`` (in the queue's order, which the caller
        knows) that may be claimed now; None if none may. A candidate another worker
        took first, or one still waiting out its back-off, is passed over. With a command
        id, a repeat returns the first claim, whichever job it took, even if the queue
        has emptied since: a worker whose answer was lost gets its lease back."""
        meta = meta or CommandMeta()
        command = cmd.Claim.parse(agent=agent, pool=pool, lease_seconds=lease_seconds)
        digest = self._digest(meta, {"next": True, **command.digest_payload()})
        earlier = self._earlier_outcome(actor, meta, digest)
        if earlier is not None:
            return earlier
        for job_id in candidates:
            try:
                return self._attempt(actor, job_id, meta, _claiming(command), digest)
            except CLAIM_LOST:
                continue
        return None

    def release(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        reason: str = "",
        meta: CommandMeta | None = None,
    ) -> Outcome:
        command = cmd.Release.parse(lease_id=lease_id, reason=reason)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.release(ctx, lease_id=command.lease_id, reason=command.reason),
        )

    def start(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        command = cmd.Start.parse(lease_id=lease_id)
        return self._execute(
            actor, job_id, meta, command, lambda job, ctx: job.start(ctx, lease_id=command.lease_id)
        )

    def report_progress(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        percent: int | None = None,
        message: str | None = None,
        findings: Mapping[str, int] | None = None,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        command = cmd.ReportProgress.parse(
            lease_id=lease_id, percent=percent, message=message, findings=dict(findings or {})
        )
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.report_progress(
                ctx,
                lease_id=command.lease_id,
                percent=command.percent,
                message=command.message,
                findings={str(kind): count for kind, count in command.findings.items()},
            ),
        )

    def record_usage(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        command = cmd.RecordUsage.parse(
            lease_id=lease_id,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
        )
        tokens = Tokens(command.input_tokens, command.output_tokens, command.cached_input_tokens)
        charge = self.price_book.charge(command.model, tokens)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.record_usage(
                ctx, lease_id=command.lease_id, model=command.model, tokens=tokens, charge=charge
            ),
        )

    def append_steps(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        steps: Sequence[Mapping[str, Any]],
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """Record an agent's steps, one or a batch, in the order given: one event, so
        the batch is recorded whole or not at all. A step with tokens is priced now."""
        if isinstance(steps, Mapping | str) or not isinstance(steps, Sequence):
            raise InvalidCommand("steps: must be a list of steps")
        command = AppendSteps.parse(lease_id=lease_id, steps=list(steps))
        command.check_sizes()
        records = [
            step_record(
                step,
                None if step.model is None else self.price_book.charge(step.model, step.tokens),
            )
            for step in command.steps
        ]
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.append_steps(ctx, lease_id=command.lease_id, steps=records),
        )

    def heartbeat(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        lease_seconds: float | None = None,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        """Renew the lease, by ``lease_seconds`` or else by the length it was granted."""
        command = cmd.Heartbeat.parse(lease_id=lease_id, lease_seconds=lease_seconds)

        def heartbeat(job: Job, ctx: EventContext) -> None:
            if command.lease_seconds is not None:
                length = timedelta(seconds=command.lease_seconds)
            else:
                length = timedelta(seconds=job.lease_seconds or DEFAULT_LEASE_SECONDS)
            job.heartbeat(ctx, lease_id=command.lease_id, lease_expires_at=ctx.timestamp + length)

        return self._execute(actor, job_id, meta, command, heartbeat)

    def begin_validation(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        command = cmd.BeginValidation.parse(lease_id=lease_id)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.begin_validation(ctx, lease_id=command.lease_id),
        )

    def begin_upload(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        command = cmd.BeginUpload.parse(lease_id=lease_id)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.begin_upload(ctx, lease_id=command.lease_id),
        )

    def complete(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        result: Mapping[str, Any],
        meta: CommandMeta | None = None,
    ) -> Outcome:
        if not isinstance(result, Mapping):
            raise InvalidCommand("result: must be an object")
        command = cmd.Complete.parse(lease_id=lease_id, result=dict(result))

        def complete(job: Job, ctx: EventContext) -> None:
            typed = validate_result(parse_job_type(job.job_type), command.result)
            job.complete(ctx, lease_id=command.lease_id, result=typed)

        return self._execute(actor, job_id, meta, command, complete)

    def fail(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        code: str,
        message: str,
        retryable: bool = False,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        command = cmd.Fail.parse(lease_id=lease_id, code=code, message=message, retryable=retryable)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.fail(
                ctx,
                lease_id=command.lease_id,
                code=command.code,
                message=command.message,
                retryable=command.retryable,
                backoff=self.retry.delay(job.attempt, self.draw()),
            ),
        )

    def expire_lease(
        self, actor: Actor, job_id: UUID, *, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor, job_id, meta, cmd.ExpireLease(), lambda job, ctx: job.expire_lease(ctx)
        )

    def cancel(
        self, actor: Actor, job_id: UUID, *, reason: str = "", meta: CommandMeta | None = None
    ) -> Outcome:
        command = cmd.Cancel.parse(reason=reason)
        return self._execute(
            actor, job_id, meta, command, lambda job, ctx: job.cancel(ctx, reason=command.reason)
        )

    def acknowledge_cancellation(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        command = cmd.AcknowledgeCancellation.parse(lease_id=lease_id)
        return self._execute(
            actor,
            job_id,
            meta,
            command,
            lambda job, ctx: job.acknowledge_cancellation(ctx, lease_id=command.lease_id),
        )

    # -- queries ------------------------------------------------------------------

    def get(self, job_id: UUID, *, tenant: str | None = None, version: int | None = None) -> Job:
        """The job now, or as it stood at ``version``; another tenant's job is not found."""
        check_version("version", version)
        try:
            job = self._load(job_id, version)
        except AggregateNotFoundError:
            raise JobNotFound(job_id) from None
        if not isinstance(job, Job) or (tenant is not None and job.tenant != tenant):
            raise JobNotFound(job_id)
        if version is not None and job.version < version:
            raise InvalidCommand(f"version: job {job_id} has versions 1 to {job.version}")
        return job

    def workflow(self, job_id: UUID, *, tenant: str) -> str:
        """The correlation id ``job_id`` was submitted with. It never changes, so a job
        this process holds in memory, at any version, tells it without asking the store."""
        cache = self.repository.cache
        if cache is not None:
            try:
                held = cache.get(job_id)
            except KeyError:
                held = None
            workflow = held.__dict__.get("workflow") if isinstance(held, Job) else None
            if isinstance(held, Job) and workflow:  # "" or missing: an older snapshot
                if held.tenant != tenant:
                    raise JobNotFound(job_id)
                return str(workflow)
        first = next(iter(self.events.get(job_id, limit=1)), None)
        if not isinstance(first, JobEvent) or first.tenant != tenant:
            raise JobNotFound(job_id)
        return first.correlation_id

    def get_as_of(self, job_id: UUID, as_of: datetime, *, tenant: str | None = None) -> Job:
        """The job as it stood at a moment, for auditors."""
        if as_of.tzinfo is None:
            raise InvalidCommand("as_of: give a time zone (e.g. 2026-11-22T09:30:00Z)")
        events = self.job_events(job_id, tenant=tenant)
        version = None
        for event in events:
            if event.timestamp > as_of:
                break
            version = event.originator_version
        if version is None:
            raise InvalidCommand(
                f"as_of: job {job_id} was submitted at {events[0].timestamp.isoformat()}, "
                f"after {as_of.isoformat()}"
            )
        return self.get(job_id, tenant=tenant, version=version)

    def job_events(self, job_id: UUID, *, tenant: str | None = None) -> list[JobEvent]:
        """Every event of a job, oldest first."""
        found = [e for e in self.events.get(job_id) if isinstance(e, JobEvent)]
        if not found or (tenant is not None and found[0].tenant != tenant):
            raise JobNotFound(job_id)
        return found

    def status_history(self, job_id: UUID, *, tenant: str | None = None) -> list[StatusChange]:
        return status_history(self.job_events(job_id, tenant=tenant))

    # -- plumbing -----------------------------------------------------------------

    def _load(self, aggregate_id: UUID, version: int | None = None) -> object:
        """The aggregate now (from the cache, fast-forwarded, copied) or at ``version``."""
        if version is not None:
            return self.repository.get(aggregate_id, version=version)
        with self._loading[aggregate_id.int % LOAD_STRIPES]:
            return self.repository.get(aggregate_id)

    def _context(self, actor: Actor, meta: CommandMeta) -> EventContext:
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() != timedelta(0):
            raise ConfigurationError(f"the ledger's clock must give UTC time, gave {now!r}")
        return EventContext(actor.subject, actor.tenant, meta.correlation_id, now)

    @staticmethod
    def _digest(meta: CommandMeta, payload: dict[str, Any]) -> str:
        """Only a command with an id needs its fingerprint."""
        return fingerprint(payload) if meta.command_id is not None else ""

    def _execute(
        self,
        actor: Actor,
        job_id: UUID,
        meta: CommandMeta | None,
        command: cmd.Command,
        change: Change,
    ) -> Outcome:
        meta = meta or CommandMeta()
        digest = self._digest(meta, {"job_id": str(job_id), **command.digest_payload()})
        try:
            return self._attempt(actor, job_id, meta, change, digest)
        except JobLedgerError:
            # Receipts are read only when a command fails: a repeat of one that
            # succeeded is refused by the job as it is now, or (if the job would take
            # it again) by its receipt, which conflicts with the first in the save.
            earlier = self._earlier_outcome(actor, meta, digest)
            if earlier is not None:
                return earlier
            raise

    def _attempt(
        self, actor: Actor, job_id: UUID, meta: CommandMeta, change: Change, digest: str
    ) -> Outcome:
        """Load, change and save; a write that loses a race is decided again on the new
        state (unless the caller stated the version it expects). In a batch of commands
        (``DECIDING``), the batch decides it and saves it later, with the others."""
        batch = DECIDING.get()
        if batch is not None:
            return batch.decide(actor, job_id, meta, change, digest)
        tries = 1 if meta.expected_version is not None else RACE_RETRIES
        for attempt in range(1, tries + 1):
            job = self.get(job_id, tenant=actor.tenant)
            also = self._decide(actor, job, meta, change)
            try:
                return self._save(actor, job, meta, digest, *also)
            except ConcurrencyConflict:
                if attempt == tries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _decide(
        self, actor: Actor, job: Job, meta: CommandMeta, change: Change
    ) -> tuple[Aggregate, ...]:
        """A command's decision on the job as it stands: the version the caller states,
        then the change (new events on the job, and what else it records). One rule for a
        command alone and for one in a batch."""
        if meta.expected_version is not None and job.version != meta.expected_version:
            raise ConcurrencyConflict(job.id, meta.expected_version, job.version)
        return tuple(change(job, self._context(actor, meta)) or ())

    @staticmethod
    def _receipt(
        actor: Actor, job: Job, meta: CommandMeta, digest: str, new: Sequence[object]
    ) -> tuple[str | None, CommandReceipt | None]:
        """The lease the command's new events grant, and its receipt (with a command id)."""
        lease_id = granted_lease(job, new)
        if meta.command_id is None:
            return lease_id, None
        return lease_id, CommandReceipt.accept(
            actor.tenant, meta.command_id, digest, job.id, job.version, lease_id
        )

    def _save(
        self, actor: Actor, job: Job, meta: CommandMeta, digest: str, *also: Aggregate
    ) -> Outcome:
        lease_id, receipt = self._receipt(actor, job, meta, digest, job.pending_events)
        try:
            recordings = self.save(job, receipt, *also)
        except IntegrityError:
            earlier = self._earlier_outcome(actor, meta, digest)
            if earlier is not None:
                return earlier
            raise ConcurrencyConflict(job.id, meta.expected_version, None) from None
        position = max(
            (r.notification.id for r in recordings if r.domain_event.originator_id == job.id),
            default=None,
        )
        return Outcome(job.id, job.version, position, lease_id, state=JobState.of(job), job=job)

    def _earlier_outcome(self, actor: Actor, meta: CommandMeta, digest: str) -> Outcome | None:
        if meta.command_id is None:
            return None
        try:
            receipt = cast(CommandReceipt, self._load(receipt_id(actor.tenant, meta.command_id)))
        except AggregateNotFoundError:
            return None
        if receipt.fingerprint != digest:
            raise IdempotencyConflict(meta.command_id)
        assert receipt.job_id is not None
        then = self.get(receipt.job_id, tenant=actor.tenant, version=receipt.job_version)
        return Outcome(
            receipt.job_id,
            receipt.job_version,
            self.recorder.max_notification_id(),
            receipt.lease_id,
            replayed=True,
            state=JobState.of(then),
            job=then,
        )


def granted_lease(job: Job, recorded: Sequence[object]) -> str | None:
    """The lease a command that ``recorded`` these events on ``job`` answers with: the
    job's (a claim's, or the one it acted under), or a task's claim; none if it recorded
    nothing."""
    granted = [e.lease_id for e in recorded if isinstance(e, TaskClaimed)]
    return (job.lease_id if recorded else None) or (granted[0] if granted else None)


def _claiming(command: cmd.Claim) -> Change:
    def claim(job: Job, ctx: EventContext) -> None:
        job.claim(
            ctx,
            agent=command.agent,
            pool=command.pool,
            lease_id=uuid4().hex,
            lease_expires_at=ctx.timestamp + timedelta(seconds=command.lease_seconds),
        )

    return claim
