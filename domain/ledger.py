"""The Ledger: the one service through which jobs are changed and read.

Each command loads the job, lets the aggregate validate and record, and saves
once. A stated ``expected_version`` makes the write conditional; without one,
a write that loses a race is re-validated against the new state and retried.
A ``command_id`` makes the command idempotent through a durable receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from jobledger.domain.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidCommand,
    JobNotFound,
)
from jobledger.domain.events import JobEvent
from jobledger.domain.history import StatusChange, status_history
from jobledger.domain.job import EventContext, Job
from jobledger.domain.pricing import PriceBook, Tokens
from jobledger.domain.receipts import CommandReceipt, fingerprint, receipt_id
from jobledger.domain.results import parse_job_type, validate_result
from jobledger.domain.values import Actor, CommandMeta, parse_spec

Clock = Callable[[], datetime]
RACE_RETRIES = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def _digest(meta: CommandMeta, command: str, payload: dict[str, Any]) -> str:
    """Only a command with an id needs its fingerprint."""
    return fingerprint(command, payload) if meta.command_id is not None else ""


@dataclass(frozen=True)
class Outcome:
    """What a command did: the job, its new version, and a log position to wait for.

    ``replayed`` is true when a command id was seen before and nothing new was
    recorded.
    """

    job_id: UUID
    version: int
    position: int | None
    replayed: bool = False


class Ledger(Application[UUID]):
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Job: 100}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        price_book: PriceBook,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(env)
        self.price_book = price_book
        self.clock = clock

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
        meta: CommandMeta | None = None,
    ) -> Outcome:
        meta = meta or CommandMeta()
        kind = parse_job_type(job_type)
        spec = parse_spec(
            job_type=kind.value,
            investigation_id=investigation_id,
            priority=priority,
            max_attempts=max_attempts,
            pool=pool,
            inputs=list(inputs),
            config=dict(config or {}),
            metadata=dict(metadata or {}),
        )
        digest = _digest(meta, "submit", spec.model_dump(mode="json"))
        earlier = self._earlier_outcome(actor, meta, digest)
        if earlier is not None:
            return earlier
        job = Job.submit(self._context(actor, meta), spec, kind)
        return self._save(actor, job, meta, digest)

    def claim(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        agent: str,
        pool: str | None = None,
        lease_seconds: float = 300,
        lease_id: str | None = None,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        if lease_seconds <= 0:
            raise InvalidCommand(f"lease_seconds: must be positive, got {lease_seconds}")
        new_lease = lease_id or uuid4().hex

        def claim(job: Job, ctx: EventContext) -> None:
            job.claim(
                ctx,
                agent=agent,
                pool=pool,
                lease_id=new_lease,
                lease_expires_at=ctx.timestamp + timedelta(seconds=lease_seconds),
            )

        payload = {"agent": agent, "pool": pool, "lease_seconds": lease_seconds}
        return self._execute(actor, job_id, meta, "claim", payload, claim)

    def release(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        reason: str = "",
        meta: CommandMeta | None = None,
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "release",
            {"lease_id": lease_id, "reason": reason},
            lambda job, ctx: job.release(ctx, lease_id=lease_id, reason=reason),
        )

    def start(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "start",
            {"lease_id": lease_id},
            lambda job, ctx: job.start(ctx, lease_id=lease_id),
        )

    def report_progress(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        percent: int,
        message: str | None = None,
        findings: Mapping[str, int] | None = None,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        counts = dict(findings or {})
        return self._execute(
            actor,
            job_id,
            meta,
            "report_progress",
            {"lease_id": lease_id, "percent": percent, "message": message, "findings": counts},
            lambda job, ctx: job.report_progress(
                ctx, lease_id=lease_id, percent=percent, message=message, findings=counts
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
        tokens = Tokens(input_tokens, output_tokens, cached_input_tokens)
        charge = self.price_book.charge(model, tokens)
        return self._execute(
            actor,
            job_id,
            meta,
            "record_usage",
            {"lease_id": lease_id, "model": model, "tokens": vars(tokens)},
            lambda job, ctx: job.record_usage(
                ctx, lease_id=lease_id, model=model, tokens=tokens, charge=charge
            ),
        )

    def heartbeat(
        self,
        actor: Actor,
        job_id: UUID,
        *,
        lease_id: str,
        lease_seconds: float = 300,
        meta: CommandMeta | None = None,
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "heartbeat",
            {"lease_id": lease_id},
            lambda job, ctx: job.heartbeat(
                ctx,
                lease_id=lease_id,
                lease_expires_at=ctx.timestamp + timedelta(seconds=lease_seconds),
            ),
        )

    def begin_validation(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "begin_validation",
            {"lease_id": lease_id},
            lambda job, ctx: job.begin_validation(ctx, lease_id=lease_id),
        )

    def begin_upload(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "begin_upload",
            {"lease_id": lease_id},
            lambda job, ctx: job.begin_upload(ctx, lease_id=lease_id),
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
        def complete(job: Job, ctx: EventContext) -> None:
            typed = validate_result(parse_job_type(job.job_type), result)
            job.complete(ctx, lease_id=lease_id, result=typed)

        payload = {"lease_id": lease_id, "result": dict(result)}
        return self._execute(actor, job_id, meta, "complete", payload, complete)

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
        payload = {"lease_id": lease_id, "code": code, "message": message, "retryable": retryable}
        return self._execute(
            actor,
            job_id,
            meta,
            "fail",
            payload,
            lambda job, ctx: job.fail(
                ctx, lease_id=lease_id, code=code, message=message, retryable=retryable
            ),
        )

    def expire_lease(
        self, actor: Actor, job_id: UUID, *, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor, job_id, meta, "expire_lease", {}, lambda job, ctx: job.expire_lease(ctx)
        )

    def cancel(
        self, actor: Actor, job_id: UUID, *, reason: str = "", meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "cancel",
            {"reason": reason},
            lambda job, ctx: job.cancel(ctx, reason=reason),
        )

    def acknowledge_cancellation(
        self, actor: Actor, job_id: UUID, *, lease_id: str, meta: CommandMeta | None = None
    ) -> Outcome:
        return self._execute(
            actor,
            job_id,
            meta,
            "acknowledge_cancellation",
            {"lease_id": lease_id},
            lambda job, ctx: job.acknowledge_cancellation(ctx, lease_id=lease_id),
        )

    # -- queries ------------------------------------------------------------------

    def get(self, job_id: UUID, *, tenant: str | None = None, version: int | None = None) -> Job:
        """The job now, or as it stood at ``version``; another tenant's job is not found."""
        try:
            job: object = self.repository.get(job_id, version=version)
        except AggregateNotFoundError:
            raise JobNotFound(job_id) from None
        if not isinstance(job, Job) or (tenant is not None and job.tenant != tenant):
            raise JobNotFound(job_id)
        return job

    def get_as_of(self, job_id: UUID, as_of: datetime, *, tenant: str | None = None) -> Job:
        """The job as it stood at a moment, for auditors."""
        version = None
        for event in self.job_events(job_id, tenant=tenant):
            if event.timestamp > as_of:
                break
            version = event.originator_version
        if version is None:
            raise JobNotFound(f"{job_id} (it did not exist yet at {as_of.isoformat()})")
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

    def _context(self, actor: Actor, meta: CommandMeta) -> EventContext:
        return EventContext(actor.subject, actor.tenant, meta.correlation_id, self.clock())

    def _execute(
        self,
        actor: Actor,
        job_id: UUID,
        meta: CommandMeta | None,
        command: str,
        payload: dict[str, Any],
        change: Callable[[Job, EventContext], None],
    ) -> Outcome:
        meta = meta or CommandMeta()
        digest = _digest(meta, command, {"job_id": str(job_id), **payload})
        earlier = self._earlier_outcome(actor, meta, digest)
        if earlier is not None:
            return earlier
        tries = 1 if meta.expected_version is not None else RACE_RETRIES
        for attempt in range(1, tries + 1):
            job = self.get(job_id, tenant=actor.tenant)
            if meta.expected_version is not None and job.version != meta.expected_version:
                raise ConcurrencyConflict(job_id, meta.expected_version, job.version)
            change(job, self._context(actor, meta))
            try:
                return self._save(actor, job, meta, digest)
            except ConcurrencyConflict:
                if attempt == tries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _save(self, actor: Actor, job: Job, meta: CommandMeta, digest: str) -> Outcome:
        receipt = None
        if meta.command_id is not None:
            receipt = CommandReceipt.accept(
                actor.tenant, meta.command_id, digest, job.id, job.version
            )
        try:
            recordings = self.save(job, receipt)
        except IntegrityError:
            earlier = self._earlier_outcome(actor, meta, digest)
            if earlier is not None:
                return earlier
            raise ConcurrencyConflict(job.id, meta.expected_version, None) from None
        position = max((r.notification.id for r in recordings), default=None)
        return Outcome(job.id, job.version, position)

    def _earlier_outcome(self, actor: Actor, meta: CommandMeta, digest: str) -> Outcome | None:
        if meta.command_id is None:
            return None
        try:
            receipt = cast(
                CommandReceipt, self.repository.get(receipt_id(actor.tenant, meta.command_id))
            )
        except AggregateNotFoundError:
            return None
        if receipt.fingerprint != digest:
            raise IdempotencyConflict(meta.command_id)
        assert receipt.job_id is not None
        return Outcome(
            receipt.job_id, receipt.job_version, self.recorder.max_notification_id(), replayed=True
        )
