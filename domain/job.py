"""The Job aggregate: commands check the lifecycle and the payload, then record events.

The job's state changes only when an event is applied (see ``events.py``), so a
stored history always rebuilds the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from jobledger.domain import events as ev
from jobledger.domain import task_work
from jobledger.domain.bounds import FINDING_KINDS
from jobledger.domain.errors import IllegalTransition, InvalidCommand, LeaseMismatch, RetryNotDue
from jobledger.domain.lifecycle import JobStatus, Trigger, lifecycle
from jobledger.domain.pricing import Charge, Tokens
from jobledger.domain.results import JobResult, JobType
from jobledger.domain.values import JobSpec


@dataclass(frozen=True)
class EventContext:
    """Who records an event, under which correlation, and when."""

    actor: str
    tenant: str
    correlation_id: str
    timestamp: datetime

    def fields(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "tenant": self.tenant,
            "correlation_id": self.correlation_id,
            "timestamp": self.timestamp,
        }


class Job(Aggregate):
    steps_recorded = 0  # a class default: snapshots taken before steps existed lack it

    def __init__(self) -> None:
        self.tenant = ""
        self.job_type = ""
        self.investigation_id: str | None = None
        self.created_by = ""
        self.workflow = ""  # the correlation id it was submitted with ("" from old snapshots)
        self.priority = 5
        self.max_attempts = 1
        self.pool: str | None = None
        self.inputs: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.status_value = JobStatus.QUEUED.value
        self.attempt = 1
        self.progress = 0
        self.progress_message: str | None = None
        self.preliminary_findings: dict[str, int] = {}
        self.agent: str | None = None
        self.agent_pool: str | None = None
        self.lease_id: str | None = None
        self.lease_expires_at: datetime | None = None
        self.lease_seconds: float | None = None  # what each worker command renews by
        self.not_before: datetime | None = None  # a retry's back-off ends here
        self.claimed_at: datetime | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.cancellation_requested = False
        self.cancellation_reason: str | None = None
        self.tokens: dict[str, int] = {"input": 0, "output": 0, "cached_input": 0}
        self.cost = Decimal(0)
        self.unpriced_usage = False
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.subject: str | None = None  # what a job of tasks analyses
        self.tasks: dict[str, dict[str, Any]] = {}  # by task id (task_work.py)
        self.verdict: dict[str, Any] | None = None

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.status_value)

    @property
    def attempts_left(self) -> int:
        return max(self.max_attempts - self.attempt, 0)

    # -- commands -------------------------------------------------------------

    @classmethod
    def submit(cls, ctx: EventContext, spec: JobSpec, job_type: JobType) -> Job:
        return cls._create(
            ev.JobSubmitted,
            **ctx.fields(),
            job_type=job_type.value,
            investigation_id=spec.investigation_id,
            priority=spec.priority,
            max_attempts=spec.max_attempts,
            pool=spec.pool,
            inputs=[i.model_dump(mode="json") for i in spec.inputs],
            config=dict(spec.config),
            metadata=dict(spec.metadata),
        )

    def claim(
        self,
        ctx: EventContext,
        *,
        agent: str,
        pool: str | None,
        lease_id: str,
        lease_expires_at: datetime,
    ) -> None:
        self._check(Trigger.CLAIM)
        if self.tasks:  # its named workers claim their tasks instead
            raise IllegalTransition(
                self.id, self.status.value, Trigger.CLAIM.value, [Trigger.CLAIM_TASK.value]
            )
        _require_text("agent", agent)
        if self.not_before is not None and ctx.timestamp < self.not_before:
            raise RetryNotDue(self.id, self.not_before)
        if self.pool is not None and pool != self.pool:
            raise InvalidCommand(f"pool: job {self.id} runs only in pool {self.pool!r}")
        self._record(
            ev.JobClaimed,
            ctx,
            agent=agent,
            pool=pool,
            lease_id=lease_id,
            lease_expires_at=lease_expires_at,
            attempt=self.attempt,
        )

    def release(self, ctx: EventContext, *, lease_id: str, reason: str) -> None:
        self._check(Trigger.RELEASE, lease_id)
        self._record(ev.JobReleased, ctx, reason=reason)

    def start(self, ctx: EventContext, *, lease_id: str) -> None:
        self._check(Trigger.START, lease_id)
        self._record(ev.JobStarted, ctx, lease_expires_at=self._renewed(ctx))

    def report_progress(
        self,
        ctx: EventContext,
        *,
        lease_id: str,
        percent: int | None,
        message: str | None = None,
        findings: dict[str, int] | None = None,
    ) -> None:
        """Progress, preliminary finding counts, or both (``percent`` None: unchanged)."""
        self._check(Trigger.REPORT_PROGRESS, lease_id)
        if percent is None:
            percent = self.progress
        if not 0 <= percent <= 100:
            raise InvalidCommand(f"percent: must be between 0 and 100, got {percent}")
        if percent < self.progress:
            raise InvalidCommand(
                f"percent: progress never decreases (job {self.id} is at {self.progress}, "
                f"got {percent})"
            )
        counts = dict(findings or {})
        for kind, count in counts.items():
            if kind not in FINDING_KINDS:
                raise InvalidCommand(
                    f"findings.{kind}: unknown kind; use {', '.join(FINDING_KINDS)}"
                )
            if count < 0:
                raise InvalidCommand(f"findings.{kind}: must be 0 or more, got {count}")
        self._record(
            ev.ProgressReported,
            ctx,
            percent=percent,
            message=message,
            findings=counts,
            lease_expires_at=self._renewed(ctx),
        )

    def record_usage(
        self, ctx: EventContext, *, lease_id: str, model: str, tokens: Tokens, charge: Charge
    ) -> None:
        self._check(Trigger.RECORD_USAGE, lease_id)
        _require_text("model", model)
        for kind in ("input", "output", "cached_input"):
            if getattr(tokens, kind) < 0:
                raise InvalidCommand(f"{kind}_tokens: must be 0 or more")
        prices = charge.unit_prices
        self._record(
            ev.UsageRecorded,
            ctx,
            model=model,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cached_input_tokens=tokens.cached_input,
            attempt=self.attempt,
            cost=charge.cost,
            currency=charge.currency,
            price_book_version=charge.price_book_version,
            input_per_million=prices.input_per_million if prices else None,
            output_per_million=prices.output_per_million if prices else None,
            cached_input_per_million=prices.cached_input_per_million if prices else None,
            lease_expires_at=self._renewed(ctx),
        )

    def append_steps(
        self, ctx: EventContext, *, lease_id: str, steps: list[dict[str, Any]]
    ) -> None:
        """Record a batch of an agent's steps (checked and priced by the Ledger) at once."""
        self._check(Trigger.APPEND_STEPS, lease_id)
        if not steps:
            raise InvalidCommand("steps: give at least one step")
        self._record(
            ev.StepsAppended,
            ctx,
            first_step=self.steps_recorded + 1,
            attempt=self.attempt,
            steps=steps,
            lease_expires_at=self._renewed(ctx),
        )

    def heartbeat(self, ctx: EventContext, *, lease_id: str, lease_expires_at: datetime) -> None:
        self._check(Trigger.HEARTBEAT, lease_id)
        self._record(ev.HeartbeatRecorded, ctx, lease_expires_at=lease_expires_at)

    def begin_validation(self, ctx: EventContext, *, lease_id: str) -> None:
        self._check(Trigger.BEGIN_VALIDATION, lease_id)
        self._record(ev.ValidationStarted, ctx, lease_expires_at=self._renewed(ctx))

    def begin_upload(self, ctx: EventContext, *, lease_id: str) -> None:
        self._check(Trigger.BEGIN_UPLOAD, lease_id)
        self._record(ev.UploadStarted, ctx, lease_expires_at=self._renewed(ctx))

    def complete(self, ctx: EventContext, *, lease_id: str, result: JobResult) -> None:
        self._check(Trigger.COMPLETE, lease_id)
        if result.type != self.job_type:
            raise InvalidCommand(
                f"result.type: {result.type!r} does not match the job's type {self.job_type!r}"
            )
        self._record(ev.JobCompleted, ctx, result=result.model_dump(mode="json"))

    def fail(
        self,
        ctx: EventContext,
        *,
        lease_id: str,
        code: str,
        message: str,
        retryable: bool,
        backoff: timedelta = timedelta(0),
    ) -> None:
        """A retryable failure with attempts left queues the job again after ``backoff``;
        any other failure is final (so is one while a cancel is pending)."""
        self._check(Trigger.FAIL, lease_id)
        _require_text("code", code)
        if retryable and self.attempts_left > 0 and not self.cancellation_requested:
            self._record(
                ev.AttemptFailed,
                ctx,
                code=code,
                message=message,
                attempt=self.attempt,
                not_before=ctx.timestamp + backoff,
            )
        else:
            self._record(
                ev.JobFailed,
                ctx,
                code=code,
                message=message,
                retryable=retryable,
                attempt=self.attempt,
            )

    def expire_lease(self, ctx: EventContext) -> None:
        """Recorded by the sweeper once the lease deadline has passed."""
        self._check(Trigger.EXPIRE_LEASE)
        if self.lease_id is None or self.agent is None:
            raise InvalidCommand(f"job {self.id} holds no lease")  # leased states always do
        if self.lease_expires_at is not None and ctx.timestamp < self.lease_expires_at:
            raise InvalidCommand(
                f"job {self.id}: lease runs until {self.lease_expires_at.isoformat()}"
            )
        if self.cancellation_requested:
            outcome = "cancelled"
        elif self.attempts_left > 0:
            outcome = "requeued"
        else:
            outcome = "failed"
        self._record(
            ev.LeaseExpired,
            ctx,
            lease_id=self.lease_id,
            agent=self.agent,
            attempt=self.attempt,
            outcome=outcome,
        )

    def cancel(self, ctx: EventContext, *, reason: str) -> None:
        """Immediate if nobody works on the job yet, or for a job of tasks (its open
        tasks are cancelled with it); else ask its worker, once."""
        self._check(Trigger.CANCEL)
        if self.cancellation_requested:
            return  # already asked: nothing new to record
        if self.tasks:
            task_work.cancel_tasks(self, ctx, reason)
            self._record(ev.JobCancelled, ctx, reason=reason)
        elif self.status in (JobStatus.QUEUED, JobStatus.CLAIMED):
            self._record(ev.JobCancelled, ctx, reason=reason)
        else:
            self._record(ev.CancellationRequested, ctx, reason=reason)

    def acknowledge_cancellation(self, ctx: EventContext, *, lease_id: str) -> None:
        self._check(Trigger.ACKNOWLEDGE_CANCELLATION, lease_id)
        if not self.cancellation_requested:
            raise InvalidCommand(f"job {self.id}: no cancellation was requested")
        self._record(ev.CancellationAcknowledged, ctx)

    # -- helpers --------------------------------------------------------------

    def _check(self, trigger: Trigger, lease_id: str | None = None) -> None:
        """Refuse a lease that is not current and what the table forbids. While another
        lease holds the job, fencing answers first: a worker whose lease is gone learns
        that, whatever the new holder is doing."""
        held_by_another = self.lease_id is not None and lease_id not in (None, self.lease_id)
        if not held_by_another:
            lifecycle().check(self.id, self.status, trigger, of_tasks=bool(self.tasks))
        if lease_id is not None and lease_id != self.lease_id:
            raise LeaseMismatch(
                self.id, lease_id, self.lease_id, self.status.value, self.lease_expires_at
            )

    def _renewed(self, ctx: EventContext) -> datetime | None:
        """The lease deadline a worker command moves to: now plus the lease's length."""
        if self.lease_seconds is None:
            return None
        return ctx.timestamp + timedelta(seconds=self.lease_seconds)

    def _record(self, event_class: type[ev.JobEvent], ctx: EventContext, **fields: Any) -> None:
        self.trigger_event(event_class, **ctx.fields(), **fields)


def _require_text(field: str, value: str) -> None:
    if not value or not value.strip():
        raise InvalidCommand(f"{field}: must not be empty")
