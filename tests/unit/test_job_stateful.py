"""Jobs driven by random commands agree with a reference model of the table.

Every allowed command records exactly the expected events and lands in a state
the table allows; every other command raises and records nothing; and each job
reloaded from a real SQLite store (with a snapshot every third event) equals the
one in memory. Several jobs live in one run, so a job that finishes early does
not end the exploration.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from jobledger.domain import events as ev
from jobledger.domain.errors import IllegalTransition, InvalidCommand, LeaseMismatch
from jobledger.domain.job import EventContext, Job
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import LEASED, TASK_TRIGGERS, TRANSITIONS, JobStatus, Trigger
from jobledger.domain.pricing import PriceBook, Tokens
from jobledger.domain.results import JobType, validate_result
from jobledger.domain.values import JobSpec

BOOK = PriceBook.from_toml(
    'version="t"\neffective_from=2026-01-01\n[models.m]\ninput_per_million="1"\n'
    'output_per_million="2"\ncached_input_per_million="0.5"\n'
)
LEASE_SECONDS = 60

# The reference: the table read directly, not through the Lifecycle class.
MOVES: dict[tuple[JobStatus, Trigger], set[JobStatus]] = {}
for _row in TRANSITIONS:
    for _source in _row.sources:
        MOVES.setdefault((_source, _row.trigger), set()).add(_row.dest or _source)
# A job without tasks; a job of tasks is walked in test_worker_protocol_stateful.py.
COMMAND_TRIGGERS = sorted(t for t in Trigger if t is not Trigger.SUBMIT and t not in TASK_TRIGGERS)
WALK_STEPS = 8


def can_end_the_job(status: JobStatus, trigger: Trigger) -> bool:
    return any(dest.is_terminal for dest in MOVES[(status, trigger)])


class SnapshotEveryThirdLedger(Ledger):
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Job: 3}


@dataclass
class Model:
    """The reference state of one job, beside the aggregate under test."""

    job: Job
    max_attempts: int
    status: JobStatus = JobStatus.QUEUED
    attempt: int = 1
    progress: int = 0
    cancel_requested: bool = False
    lease: str | None = None
    lease_until: datetime | None = None
    lease_length: timedelta | None = None  # every worker command renews by this
    input_tokens: int = 0
    cost: Decimal = Decimal(0)
    error_code: str | None = None
    steps: int = 0  # steps recorded, over every attempt

    def allowed(self, trigger: Trigger) -> bool:
        return (self.status, trigger) in MOVES

    def drop_lease(self) -> None:
        self.lease = None
        self.lease_until = None

    def lease_granted(self, ctx: EventContext, until: datetime) -> None:
        self.lease_until, self.lease_length = until, until - ctx.timestamp

    def renewed(self, ctx: EventContext) -> None:
        assert self.lease_length is not None
        self.lease_until = ctx.timestamp + self.lease_length


class JobLifecycle(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.folder / "ledger.db"),
        }
        self.ledger = SnapshotEveryThirdLedger(env, price_book=BOOK)
        self.now = datetime(2026, 11, 1, tzinfo=UTC)
        self.models: list[Model] = []
        self.leases = 0

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def ctx(self) -> EventContext:
        self.now += timedelta(seconds=1)
        return EventContext("someone", "acme", "corr", self.now)

    # -- rules --------------------------------------------------------------------

    @rule(target=jobs, max_attempts=st.integers(min_value=1, max_value=3))
    def submit(self, max_attempts: int) -> Model:
        spec = JobSpec(job_type="graph_analysis", max_attempts=max_attempts)
        model = Model(Job.submit(self.ctx(), spec, JobType.GRAPH_ANALYSIS), max_attempts)
        assert [type(e) for e in model.job.pending_events] == [ev.JobSubmitted]
        self.ledger.save(model.job)
        self.models.append(model)
        return model

    @rule(model=jobs, data=st.data())
    def allowed_commands_record_what_the_table_says(self, model: Model, data: Any) -> None:
        """Walk one job a few steps; endings are drawn less often, so jobs live long
        enough to reach deep paths (e.g. a failure after a cancellation request)."""
        for _ in range(WALK_STEPS):
            allowed = [t for t in COMMAND_TRIGGERS if model.allowed(t)]
            if not allowed:
                return
            weighted = [
                t for t in allowed for _ in range(1 if can_end_the_job(model.status, t) else 3)
            ]
            trigger = data.draw(st.sampled_from(weighted), label="trigger")
            COMMANDS[trigger](self, model, data)

    @rule(model=jobs, trigger=st.sampled_from(COMMAND_TRIGGERS), data=st.data())
    def a_forbidden_command_records_nothing(
        self, model: Model, trigger: Trigger, data: Any
    ) -> None:
        if not model.allowed(trigger):
            COMMANDS[trigger](self, model, data)  # expect() asserts IllegalTransition

    @rule(model=jobs, trigger=st.sampled_from([Trigger.START, Trigger.HEARTBEAT, Trigger.COMPLETE]))
    def a_stale_worker_is_fenced_out(self, model: Model, trigger: Trigger) -> None:
        ctx = self.ctx()
        stale: dict[Trigger, Callable[[], None]] = {
            Trigger.START: lambda: model.job.start(ctx, lease_id="stale"),
            Trigger.HEARTBEAT: lambda: model.job.heartbeat(
                ctx, lease_id="stale", lease_expires_at=self.now
            ),
            Trigger.COMPLETE: lambda: model.job.complete(
                ctx, lease_id="stale", result=validate_result(JobType.GRAPH_ANALYSIS, {})
            ),
        }
        self.expect(model, trigger, stale[trigger], [], refused_by=LeaseMismatch)

    # -- the harness ----------------------------------------------------------------

    def expect(
        self,
        model: Model,
        trigger: Trigger,
        command: Callable[[], None],
        events: list[type[ev.JobEvent]],
        status: JobStatus | None = None,
        refused_by: type[Exception] | None = None,
    ) -> bool:
        """Run a command; True when it was allowed and recorded what was expected."""
        job, version = model.job, model.job.version
        expected_error = IllegalTransition if not model.allowed(trigger) else refused_by
        if refused_by is LeaseMismatch and model.lease is not None:
            expected_error = LeaseMismatch  # while another lease holds it, fencing answers
        if expected_error is not None:
            with pytest.raises(expected_error):
                command()
            assert job.pending_events == []
            assert job.version == version
            return False
        command()
        assert [type(e) for e in job.pending_events] == events
        new_status = status or model.status
        assert new_status in MOVES[(model.status, trigger)]
        assert job.status == new_status
        self.ledger.save(job)
        model.status = new_status
        return True

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def reloaded_from_the_store_each_job_equals_the_one_in_memory(self) -> None:
        for model in self.models:
            assert self.ledger.get(model.job.id) == model.job

    @invariant()
    def each_job_matches_its_reference(self) -> None:
        for model in self.models:
            job = model.job
            assert job.status == model.status
            assert job.attempt == model.attempt <= model.max_attempts
            expected_progress = 100 if model.status is JobStatus.COMPLETED else model.progress
            assert job.progress == expected_progress
            assert job.lease_id == model.lease
            assert job.lease_expires_at == model.lease_until
            assert (job.lease_id is None) == (model.status not in LEASED)
            assert job.cancellation_requested == model.cancel_requested
            assert job.tokens["input"] == model.input_tokens
            assert job.cost == model.cost
            assert job.steps_recorded == model.steps
            assert (job.error or {}).get("code") == model.error_code


# -- one function per trigger: the command, and what the reference expects of it ----------

Command = Callable[[JobLifecycle, Model, Any], None]


def claim(m: JobLifecycle, model: Model, data: Any) -> None:
    m.leases += 1
    lease, until, ctx = f"lease-{m.leases}", m.now + timedelta(seconds=LEASE_SECONDS), m.ctx()
    if m.expect(
        model,
        Trigger.CLAIM,
        lambda: model.job.claim(ctx, agent="w", pool=None, lease_id=lease, lease_expires_at=until),
        [ev.JobClaimed],
        JobStatus.CLAIMED,
    ):
        model.lease = lease
        model.lease_granted(ctx, until)


def release(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.RELEASE,
        lambda: model.job.release(ctx, lease_id=lease, reason="busy"),
        [ev.JobReleased],
        JobStatus.QUEUED,
    ):
        model.drop_lease()


def start(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.START,
        lambda: model.job.start(ctx, lease_id=lease),
        [ev.JobStarted],
        JobStatus.RUNNING,
    ):
        model.renewed(ctx)


def report_progress(m: JobLifecycle, model: Model, data: Any) -> None:
    percent = data.draw(st.integers(min_value=0, max_value=100), label="percent")
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.REPORT_PROGRESS,
        lambda: model.job.report_progress(ctx, lease_id=lease, percent=percent),
        [ev.ProgressReported],
        refused_by=InvalidCommand if percent < model.progress else None,
    ):
        model.progress = percent
        model.renewed(ctx)


def record_usage(m: JobLifecycle, model: Model, data: Any) -> None:
    tokens = Tokens(data.draw(st.integers(min_value=0, max_value=10**7), label="tokens"), 1, 0)
    charge = BOOK.charge("m", tokens)
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.RECORD_USAGE,
        lambda: model.job.record_usage(
            ctx, lease_id=lease, model="m", tokens=tokens, charge=charge
        ),
        [ev.UsageRecorded],
    ):
        model.input_tokens += tokens.input
        model.renewed(ctx)
        assert charge.cost is not None
        model.cost += charge.cost


def append_steps(m: JobLifecycle, model: Model, data: Any) -> None:
    """A batch of steps, some priced: numbered on from the job's last, charged in full."""
    tokens = data.draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=3), label="tokens")
    records = [
        {"action_name": "a", "usage": {**_priced(count), "model": "m"} if count else None}
        for count in tokens
    ]
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.APPEND_STEPS,
        lambda: model.job.append_steps(ctx, lease_id=lease, steps=records),
        [ev.StepsAppended],
    ):
        event = model.job.pending_events[-1] if model.job.pending_events else None
        assert event is None or event.first_step == model.steps + 1  # type: ignore[attr-defined]
        model.steps += len(records)
        model.input_tokens += sum(tokens)
        model.cost += sum((_priced(count)["cost"] for count in tokens), Decimal(0))
        model.renewed(ctx)


def _priced(count: int) -> dict[str, Any]:
    charge = BOOK.charge("m", Tokens(count, 0, 0))
    return {
        "input_tokens": count,
        "output_tokens": 0,
        "cached_input_tokens": 0,
        "cost": charge.cost,
        "currency": charge.currency,
        "price_book_version": charge.price_book_version,
    }


def heartbeat(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    until = ctx.timestamp + timedelta(seconds=LEASE_SECONDS)
    if m.expect(
        model,
        Trigger.HEARTBEAT,
        lambda: model.job.heartbeat(ctx, lease_id=lease, lease_expires_at=until),
        [ev.HeartbeatRecorded],
    ):
        model.lease_granted(ctx, until)


def begin_validation(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.BEGIN_VALIDATION,
        lambda: model.job.begin_validation(ctx, lease_id=lease),
        [ev.ValidationStarted],
        JobStatus.VALIDATING,
    ):
        model.renewed(ctx)


def begin_upload(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.BEGIN_UPLOAD,
        lambda: model.job.begin_upload(ctx, lease_id=lease),
        [ev.UploadStarted],
        JobStatus.UPLOADING,
    ):
        model.renewed(ctx)


def complete(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    result = validate_result(JobType.GRAPH_ANALYSIS, {"nodes": 2, "edges": 1})
    if m.expect(
        model,
        Trigger.COMPLETE,
        lambda: model.job.complete(ctx, lease_id=lease, result=result),
        [ev.JobCompleted],
        JobStatus.COMPLETED,
    ):
        model.drop_lease()


def fail(m: JobLifecycle, model: Model, data: Any) -> None:
    retryable = data.draw(st.booleans(), label="retryable")
    ctx, lease = m.ctx(), model.lease or "none"
    retry = retryable and model.attempt < model.max_attempts and not model.cancel_requested
    if m.expect(
        model,
        Trigger.FAIL,
        lambda: model.job.fail(ctx, lease_id=lease, code="boom", message="m", retryable=retryable),
        [ev.AttemptFailed if retry else ev.JobFailed],
        JobStatus.QUEUED if retry else JobStatus.FAILED,
    ):
        model.drop_lease()
        model.error_code = "boom"
        if retry:
            model.attempt += 1
            model.progress = 0


def expire_lease(m: JobLifecycle, model: Model, data: Any) -> None:
    if data.draw(st.booleans(), label="wait out the lease") and model.lease_until is not None:
        m.now = max(m.now, model.lease_until)
    ctx = m.ctx()
    lapsed = model.lease_until is not None and ctx.timestamp >= model.lease_until
    if model.cancel_requested:
        outcome = JobStatus.CANCELLED
    elif model.attempt < model.max_attempts:
        outcome = JobStatus.QUEUED
    else:
        outcome = JobStatus.FAILED
    if m.expect(
        model,
        Trigger.EXPIRE_LEASE,
        lambda: model.job.expire_lease(ctx),
        [ev.LeaseExpired],
        outcome,
        refused_by=None if lapsed else InvalidCommand,
    ):
        model.drop_lease()
        if outcome is JobStatus.FAILED:
            model.error_code = "lease_expired"
        if outcome is JobStatus.QUEUED:
            model.attempt += 1
            model.progress = 0


def cancel(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx = m.ctx()
    immediate = model.status in (JobStatus.QUEUED, JobStatus.CLAIMED)
    if model.cancel_requested:
        expected: list[type[ev.JobEvent]] = []  # asked once already: nothing new
    else:
        expected = [ev.JobCancelled if immediate else ev.CancellationRequested]
    if m.expect(
        model,
        Trigger.CANCEL,
        lambda: model.job.cancel(ctx, reason="not needed"),
        expected,
        JobStatus.CANCELLED if immediate else None,
    ):
        if immediate:
            model.drop_lease()
        else:
            model.cancel_requested = True


def acknowledge_cancellation(m: JobLifecycle, model: Model, data: Any) -> None:
    ctx, lease = m.ctx(), model.lease or "none"
    if m.expect(
        model,
        Trigger.ACKNOWLEDGE_CANCELLATION,
        lambda: model.job.acknowledge_cancellation(ctx, lease_id=lease),
        [ev.CancellationAcknowledged],
        JobStatus.CANCELLED,
        refused_by=None if model.cancel_requested else InvalidCommand,
    ):
        model.drop_lease()


COMMANDS: dict[Trigger, Command] = {
    Trigger.CLAIM: claim,
    Trigger.RELEASE: release,
    Trigger.START: start,
    Trigger.REPORT_PROGRESS: report_progress,
    Trigger.RECORD_USAGE: record_usage,
    Trigger.APPEND_STEPS: append_steps,
    Trigger.HEARTBEAT: heartbeat,
    Trigger.BEGIN_VALIDATION: begin_validation,
    Trigger.BEGIN_UPLOAD: begin_upload,
    Trigger.COMPLETE: complete,
    Trigger.FAIL: fail,
    Trigger.EXPIRE_LEASE: expire_lease,
    Trigger.CANCEL: cancel,
    Trigger.ACKNOWLEDGE_CANCELLATION: acknowledge_cancellation,
}


def test_every_command_trigger_is_exercised() -> None:
    assert set(COMMANDS) == set(COMMAND_TRIGGERS)


JobLifecycle.TestCase.settings = settings(
    max_examples=120,  # 3,600 steps; 200 cost a fifth of the suite's CPU and found nothing more
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestJobLifecycle = JobLifecycle.TestCase
