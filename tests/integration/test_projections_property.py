"""Read models built incrementally, rebuilt from scratch, and computed by a plain
reference straight from the events, all agree, for random valid histories."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.domain import events as ev
from jobledger.domain.bounds import FINDING_KINDS
from jobledger.domain.errors import JobLedgerError
from jobledger.domain.job import Job
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import TASK_TRIGGERS, JobStatus, Trigger, lifecycle
from jobledger.domain.results import JobType
from jobledger.domain.values import Actor
from jobledger.projections.schema import ALL_TABLES, JOB_SUMMARIES
from jobledger.projections.statistics import bucket_of
from tests.conftest import STORES, MovableClock, fresh_store, select

TENANTS = ("acme", "globex")
MODELS = ("gpt-4o", "claude-sonnet-4", "unpriced-model")

# Examples per store: the folding rules are the same on every store and get their full
# count on SQLite; on PostgreSQL, where each example needs a schema of its own (about half
# a second), fewer show that its column types and transactions keep them.
AGREE_EXAMPLES = {"sqlite": 30, "postgres": 10}
WALK_EXAMPLES = {"sqlite": 50, "postgres": 15}


def drive(ledger: Ledger, clock: MovableClock, data: Any, runner_batches: Any) -> list[UUID]:
    """Random valid commands on several jobs; the runner catches up now and then."""
    jobs: list[UUID] = []
    leases: dict[UUID, str] = {}
    # Hypothesis favours "simple" draws (first elements, small numbers); the walk's
    # choices come from a random it controls, so that each is close to uniform.
    walk = data.draw(st.randoms(use_true_random=False), label="walk")
    steps = walk.randint(20, 80)
    for _ in range(steps):
        clock.advance(seconds=walk.choice([1, 7, 90, 3600, 30_000]))
        if not jobs or walk.random() < 0.15:
            tenant = walk.choice(TENANTS)
            jobs.append(
                ledger.submit(
                    Actor(f"analyst@{tenant}", tenant),
                    walk.choice(list(JobType)).value,
                    investigation_id=walk.choice([None, "INV-1", "INV-2"]),
                    max_attempts=walk.randint(1, 3),
                ).job_id
            )
            continue
        job_id = walk.choice(jobs)
        job = ledger.get(job_id)
        allowed = plain_triggers(job.status)
        if not allowed:
            continue
        # Forward moves are drawn most, so jobs get far enough to report, spend and retry.
        weighted = [t for t in allowed for _ in range(weight(job.status, t))]
        trigger = walk.choice(weighted)
        perform(ledger, clock, walk, job, trigger, leases)
        if walk.random() < 0.2:
            runner_batches()
    return jobs


FORWARD = {
    Trigger.CLAIM,
    Trigger.START,
    Trigger.REPORT_PROGRESS,
    Trigger.BEGIN_VALIDATION,
    Trigger.BEGIN_UPLOAD,
}


def perform(
    ledger: Ledger,
    clock: MovableClock,
    walk: Any,
    job: Any,
    trigger: Trigger,
    leases: dict[UUID, str],
) -> None:
    """The Ledger command for a trigger, with plausible random arguments.

    A refusal (e.g. acknowledging a cancellation nobody asked for) records nothing
    and is part of the walk, not a failure.
    """
    job_id, worker = job.id, Actor("worker", job.tenant)
    lease = leases.get(job_id, "")
    try:
        if trigger is Trigger.CLAIM:
            leases[job_id] = (
                ledger.claim(worker, job_id, agent="w", lease_seconds=60).lease_id or ""
            )
        elif trigger is Trigger.RELEASE:
            ledger.release(worker, job_id, lease_id=lease, reason="busy")
        elif trigger is Trigger.REPORT_PROGRESS:
            ledger.report_progress(
                worker,
                job_id,
                lease_id=lease,
                percent=walk.randint(job.progress, 100),
                findings={"entities": walk.randint(0, 50)},
            )
        elif trigger is Trigger.RECORD_USAGE:
            ledger.record_usage(
                worker,
                job_id,
                lease_id=lease,
                model=walk.choice(MODELS),
                input_tokens=walk.randint(0, 10**6),
                output_tokens=walk.randint(0, 10**5),
                cached_input_tokens=walk.randint(0, 10**5),
            )
        elif trigger is Trigger.APPEND_STEPS:
            steps = [
                {
                    "workId": walk.randint(1, 9),
                    "actionName": walk.choice(["classify", "extract"]),
                    "success": walk.random() < 0.8,
                    "executedAt": "2026-11-01T09:00:00Z",
                    **(
                        {"model": walk.choice(MODELS), "inputTokens": walk.randint(0, 10**5)}
                        if walk.random() < 0.6
                        else {}
                    ),
                }
                for _ in range(walk.randint(1, 3))
            ]
            ledger.append_steps(worker, job_id, lease_id=lease, steps=steps)
        elif trigger is Trigger.HEARTBEAT:
            ledger.heartbeat(worker, job_id, lease_id=lease, lease_seconds=60)
        elif trigger is Trigger.COMPLETE:
            ledger.complete(worker, job_id, lease_id=lease, result={"entities": 3, "anomalies": 1})
        elif trigger is Trigger.FAIL:
            retryable = walk.random() < 0.7
            ledger.fail(
                worker, job_id, lease_id=lease, code="boom", message="m", retryable=retryable
            )
        elif trigger is Trigger.EXPIRE_LEASE:
            clock.advance(seconds=61)
            ledger.expire_lease(Actor("sweeper", job.tenant), job_id)
        elif trigger is Trigger.CANCEL:
            ledger.cancel(Actor("analyst", job.tenant), job_id, reason="no longer needed")
        else:  # start, begin_validation, begin_upload, acknowledge_cancellation
            getattr(ledger, trigger.value)(worker, job_id, lease_id=lease)
    except JobLedgerError:
        pass


def plain_triggers(status: JobStatus) -> list[Trigger]:
    """What the table allows a job without tasks (jobs of tasks: test_tasks.py)."""
    return [t for t in lifecycle().allowed_triggers(status) if t not in TASK_TRIGGERS]


def weight(status: JobStatus, trigger: Trigger) -> int:
    if any(d.is_terminal for d in lifecycle().destinations(status, trigger)):
        return 1
    if trigger in FORWARD:
        return 4
    return 1 if trigger is Trigger.RELEASE else 2


def dump(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t.name: sorted(
            (tuple(r.values()) for r in select(ledger, f"SELECT * FROM {t.name}")), key=repr
        )
        for t in ALL_TABLES
    }


@pytest.mark.parametrize("kind", STORES)
def test_incremental_rebuilt_and_reference_read_models_agree(kind: str) -> None:
    @settings(
        max_examples=AGREE_EXAMPLES[kind],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def agree(data: Any) -> None:
        with fresh_store(kind) as store:
            clock = MovableClock()
            ledger = build_ledger(store, clock=clock)
            ledger.draw = lambda: 0.5  # a fixed back-off jitter, so a replayed walk draws the same
            runner = build_runner(ledger)
            runner.batch_size = data.draw(st.sampled_from([1, 3, 7, 40, 500]), label="batch size")
            job_ids = drive(ledger, clock, data, runner.catch_up)
            runner.catch_up()
            incremental = dump(ledger)

            for name in runner.projections:
                runner.rebuild(name)
            assert dump(ledger) == incremental

            check_against_reference(ledger, runner, job_ids)
            ledger.close()

    agree()


def check_against_reference(ledger: Ledger, runner: Any, job_ids: list[UUID]) -> None:
    """What a careful person would compute from the events and the domain, by hand."""
    rows = {t.name: t for t in ALL_TABLES}
    view = runner.projections["job_summaries"].view
    summaries = view.fetch(rows["job_summaries"], [(str(j),) for j in job_ids])
    history = view.fetch(
        rows["status_history"],
        [(str(j), c.version) for j in job_ids for c in ledger.status_history(j)],
    )
    status_counts: Counter[tuple[str, str, str]] = Counter()
    daily: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    daily_cost: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    histogram: Counter[tuple[str, str, str, str, int]] = Counter()
    entries: dict[tuple[int, int], dict[str, Any]] = {}
    attempt_cost: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    attempt_outcome: dict[tuple[str, int], str] = {}
    steps_of: dict[str, int] = defaultdict(int)

    for job_id in job_ids:
        job = ledger.get(job_id)
        events = ledger.job_events(job_id)
        summary = summaries[(str(job_id),)]
        for column, of in SUMMARY_FIELDS.items():
            assert summary[column] == of(job), column
        first_claim = next((e.timestamp for e in events if isinstance(e, ev.JobClaimed)), None)
        first_start = next((e.timestamp for e in events if isinstance(e, ev.JobStarted)), None)
        assert (summary["claimed_at"], summary["started_at"]) == (first_claim, first_start)

        for change in ledger.status_history(job_id):
            row = history[(str(job_id), change.version)]
            assert (
                row["from_status"],
                row["to_status"],
                row["trigger"],
                row["at"],
                row["actor"],
            ) == (
                change.from_status,
                change.to_status,
                change.trigger,
                change.at,
                change.actor,
            )

        tenant, job_type = job.tenant, job.job_type
        status_counts[(tenant, job_type, job.status_value)] += 1
        attempt = 1
        status = None
        for event in events:
            day = event.timestamp.date().isoformat()
            key = (tenant, job_type, day)
            after = event.next_status(status or JobStatus.QUEUED)
            if isinstance(event, ev.JobSubmitted):
                daily[key]["submitted"] += 1
            if isinstance(event, ev.JobClaimed):
                attempt = event.attempt
                attempt_outcome[(str(job_id), attempt)] = "open"
            if isinstance(event, ev.UsageRecorded):
                daily[key]["input_tokens"] += event.input_tokens
                daily[key]["output_tokens"] += event.output_tokens
                daily[key]["cached_input_tokens"] += event.cached_input_tokens
                if event.cost is None:
                    daily[key]["unpriced_usages"] += 1
                else:
                    daily_cost[key] += event.cost
                    attempt_cost[(str(job_id), event.attempt)] += event.cost
                attempt_cost.setdefault((str(job_id), event.attempt), Decimal(0))
                entries[(ledger_position(ledger, event), 0)] = {
                    "cost": event.cost,
                    "attempt": event.attempt,
                }
            if isinstance(event, ev.StepsAppended):
                steps_of[str(job_id)] += len(event.steps)
                for number, _, usage in event.usages():
                    daily[key]["input_tokens"] += usage.input_tokens
                    if usage.cost is None:
                        daily[key]["unpriced_usages"] += 1
                    else:
                        daily_cost[key] += usage.cost
                        attempt_cost[(str(job_id), event.attempt)] += usage.cost
                    attempt_cost.setdefault((str(job_id), event.attempt), Decimal(0))
                    entries[(ledger_position(ledger, event), number)] = {
                        "cost": usage.cost,
                        "attempt": event.attempt,
                    }
            if after != status and status is not None:
                if after is JobStatus.QUEUED and isinstance(
                    event, ev.AttemptFailed | ev.LeaseExpired
                ):
                    daily[key]["retried"] += 1
                if after in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
                    daily[key][after.value] += 1
                if after is JobStatus.COMPLETED:
                    wait = ms(job.created_on, first_claim)
                    run = ms(first_start, event.timestamp)
                    for measure, value in (("queue_wait", wait), ("run", run)):
                        if value is not None:
                            daily[key][f"{measure}_ms_total"] += value
                            histogram[(tenant, job_type, day, measure, bucket_of(value))] += 1
            ending = {
                ev.JobCompleted: "succeeded",
                ev.AttemptFailed: "failed",
                ev.JobFailed: "failed",
                ev.CancellationAcknowledged: "cancelled",
                ev.JobCancelled: "cancelled",
            }.get(type(event))
            if isinstance(event, ev.LeaseExpired):
                ending = "cancelled" if event.outcome == "cancelled" else "failed"
            if ending and (str(job_id), attempt) in attempt_outcome:
                attempt_outcome[(str(job_id), attempt)] = ending
            status = after

    def rows(statement: str) -> list[tuple[Any, ...]]:
        return [tuple(r.values()) for r in select(ledger, statement)]

    stored_counts = {(t, jt, s): n for t, jt, s, n in rows("SELECT * FROM job_status_counts") if n}
    assert stored_counts == dict(status_counts)
    for record in select(ledger, "SELECT * FROM job_daily_statistics"):
        stored = dict(record)
        names = list(stored)
        key = tuple(stored[n] for n in names[:3])
        assert Decimal(stored.pop("cost")) == daily_cost.get(key, Decimal(0))
        for name in names[3:]:
            if name != "cost":
                assert stored[name] == daily[key][name], (key, name)
    stored_histogram = {tuple(r[:5]): r[6] for r in rows("SELECT * FROM job_duration_histogram")}
    assert stored_histogram == dict(histogram)
    stored_entries = {
        (r[0], r[1]): (None if r[2] is None else Decimal(r[2]), r[3])
        for r in rows("SELECT position, step, cost, attempt FROM cost_entries")
    }
    stored_steps = dict(rows("SELECT job_id, COUNT(*) FROM steps GROUP BY job_id"))
    assert stored_steps == {j: n for j, n in steps_of.items() if n}
    assert stored_entries == {p: (e["cost"], e["attempt"]) for p, e in entries.items()}
    stored_attempts = {
        (j, a): (o, Decimal(c))
        for j, a, o, c in rows("SELECT job_id, attempt, outcome, cost FROM cost_attempts")
    }
    assert stored_attempts == {
        k: (attempt_outcome[k], attempt_cost.get(k, Decimal(0))) for k in attempt_outcome
    }


def ms(start: Any, end: Any) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds() * 1000)


def ledger_position(ledger: Ledger, event: ev.JobEvent) -> int:
    """The log position of an event, found by reading the log (the reference's own way)."""
    for notification in ledger.recorder.select_notifications(start=None, limit=10**6):
        if (
            notification.originator_id == event.originator_id
            and notification.originator_version == event.originator_version
        ):
            return notification.id
    raise AssertionError("event not in the log")


def findings(kind: str) -> Callable[[Job], int]:
    """A count the job shows: its result's once completed, else the attempt's latest."""
    return lambda job: {**job.preliminary_findings, **(job.result or {})}.get(kind, 0)


# Each job summary column the Job aggregate also holds, read from the Job.
SUMMARY_FIELDS: dict[str, Callable[[Job], object]] = {
    "job_id": lambda job: str(job.id),
    "tenant": lambda job: job.tenant,
    "investigation_id": lambda job: job.investigation_id,
    "job_type": lambda job: job.job_type,
    "status": lambda job: job.status_value,
    "progress": lambda job: job.progress,
    "attempt": lambda job: job.attempt,
    "max_attempts": lambda job: job.max_attempts,
    "priority": lambda job: job.priority,
    "created_by": lambda job: job.created_by,
    "agent": lambda job: job.agent,
    "lease_expires_at": lambda job: job.lease_expires_at,
    "not_before": lambda job: job.not_before,
    "pool": lambda job: job.pool,
    "cancellation_requested": lambda job: job.cancellation_requested,
    "created_at": lambda job: job.created_on,
    "finished_at": lambda job: job.finished_at,
    "input_tokens": lambda job: job.tokens["input"],
    "output_tokens": lambda job: job.tokens["output"],
    "cached_input_tokens": lambda job: job.tokens["cached_input"],
    "cost": lambda job: job.cost,
    "unpriced_usage": lambda job: job.unpriced_usage,
    "error_code": lambda job: (job.error or {}).get("code"),
    "error_message": lambda job: (job.error or {}).get("message"),
    **{kind: findings(kind) for kind in FINDING_KINDS},
    "last_event_at": lambda job: job.modified_on,
    "version": lambda job: job.version,
}

# The columns the Job does not hold (or holds in another sense), checked elsewhere.
NOT_ON_THE_JOB = {
    "claimed_at",  # the first claim; the Job keeps the latest (checked against the events)
    "started_at",  # the first start, likewise
    "attempt_started_at",  # None until this attempt starts; the Job keeps the last start
    "queue_wait_ms",  # derived from the times above
    "run_duration_ms",
    "estimated_completion_at",  # a forecast the read model alone makes
    "projected_cost",
    "position",  # the log position, which the Job never sees
}


def test_every_summary_column_is_compared_with_the_job_or_said_not_to_be_on_it() -> None:
    columns = {column.name for column in JOB_SUMMARIES.columns}
    assert set(SUMMARY_FIELDS) | NOT_ON_THE_JOB == columns
    assert not set(SUMMARY_FIELDS) & NOT_ON_THE_JOB


@pytest.mark.parametrize("kind", STORES)
def test_a_jobs_summary_matches_the_job_after_every_command(kind: str) -> None:
    """One job walked deep (retries, cancels, spend), checked at every step, not only the end."""

    @settings(
        max_examples=WALK_EXAMPLES[kind],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def walk_deep(data: Any) -> None:
        with fresh_store(kind) as store:
            clock = MovableClock()
            ledger = build_ledger(store, clock=clock)
            ledger.draw = lambda: 0.5  # a fixed back-off jitter, so a replayed walk draws the same
            runner = build_runner(ledger)
            walk = data.draw(st.randoms(use_true_random=False), label="walk")
            job_id = ledger.submit(ACTOR, "graph_analysis", max_attempts=3).job_id
            leases: dict[UUID, str] = {}
            for _ in range(40):
                if not step(ledger, clock, walk, job_id, leases):
                    break
                runner.catch_up()
                job = ledger.get(job_id)
                view = runner.projections["job_summaries"].view
                row = view.fetch(JOB_SUMMARIES, [(str(job_id),)])[(str(job_id),)]
                for column, of in SUMMARY_FIELDS.items():
                    assert row[column] == of(job), (column, job.status_value)
            ledger.close()

    walk_deep()


ACTOR = Actor("analyst@acme", "acme")


def step(
    ledger: Ledger, clock: MovableClock, walk: Any, job_id: UUID, leases: dict[UUID, str]
) -> bool:
    """One allowed command on the job, drawn uniformly; False when the job is finished."""
    job = ledger.get(job_id)
    allowed = plain_triggers(job.status)
    if not allowed:
        return False
    clock.advance(seconds=walk.choice([1, 30, 600]))
    perform(ledger, clock, walk, job, walk.choice(allowed), leases)
    return True
