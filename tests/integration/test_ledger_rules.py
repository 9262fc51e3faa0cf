"""The Ledger's commands on a real SQLite file: what users of the service rely on."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from jobledger.domain.errors import (
    IllegalTransition,
    InvalidCommand,
    InvalidResult,
    JobNotFound,
    LeaseMismatch,
    UnknownJobType,
)
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.values import Actor
from tests.conftest import ANALYST, OTHER_TENANT, WORKER, MovableClock, running_job

pytestmark = pytest.mark.rules  # the Ledger's rules, not its storage


def event_count(ledger: Ledger, job_id: UUID) -> int:
    return len(ledger.job_events(job_id))


def test_submit_records_who_what_and_when(ledger: Ledger, clock: MovableClock) -> None:
    inputs = [{"name": "c.csv", "media_type": "text/csv", "size_bytes": 99}]
    job_id = ledger.submit(
        ANALYST, "pattern_recognition", investigation_id="INV-7", priority=8, inputs=inputs
    ).job_id
    job = ledger.get(job_id)
    assert (job.status, job.tenant, job.created_by) == (JobStatus.QUEUED, "acme", "alice@acme")
    assert (job.investigation_id, job.priority, job.attempt) == ("INV-7", 8, 1)
    assert job.inputs == [
        {"name": "c.csv", "media_type": "text/csv", "size_bytes": 99, "uri": None}
    ]
    assert job.created_on == clock.now


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"priority": 10}, "priority"),
        ({"max_attempts": 0}, "max_attempts"),
        (
            {"inputs": [{"name": "x", "media_type": "nonsense", "size_bytes": 1}]},
            "inputs.0.media_type",
        ),
        (
            {"inputs": [{"name": "x", "media_type": "text/csv", "size_bytes": -1}]},
            "inputs.0.size_bytes",
        ),
    ],
)
def test_a_bad_submit_names_the_field_and_records_nothing(
    ledger: Ledger, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        ledger.submit(ANALYST, "graph_analysis", **fields)  # type: ignore[arg-type]
    assert ledger.recorder.max_notification_id() in (None, 0)


def test_an_unknown_job_type_is_refused(ledger: Ledger) -> None:
    with pytest.raises(UnknownJobType):
        ledger.submit(ANALYST, "sentiment_analysis")


def test_another_tenants_job_is_not_found_for_reading_or_writing(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    with pytest.raises(JobNotFound):
        ledger.get(job_id, tenant=OTHER_TENANT.tenant)
    with pytest.raises(JobNotFound):
        ledger.cancel(OTHER_TENANT, job_id)
    with pytest.raises(JobNotFound):
        ledger.status_history(job_id, tenant="globex")
    assert ledger.get(job_id).status is JobStatus.QUEUED


def test_an_unknown_job_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(JobNotFound):
        ledger.get(uuid4())


def test_a_stale_lease_cannot_complete_a_job_another_worker_holds(
    ledger: Ledger, clock: MovableClock
) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    ledger.claim(WORKER, job_id, agent="slow", lease_seconds=10)
    stale = ledger.get(job_id).lease_id
    assert stale is not None
    clock.advance(seconds=11)
    ledger.expire_lease(Actor("sweeper", "acme"), job_id)
    ledger.claim(WORKER, job_id, agent="fast")
    with pytest.raises(LeaseMismatch):
        ledger.start(WORKER, job_id, lease_id=stale)
    assert ledger.get(job_id).agent == "fast"


def test_a_lease_cannot_be_expired_before_its_deadline(ledger: Ledger) -> None:
    job_id, _ = running_job(ledger)
    with pytest.raises(InvalidCommand, match="lease runs until"):
        ledger.expire_lease(Actor("sweeper", "acme"), job_id)


def test_expiry_requeues_then_fails_with_lease_expired_on_the_last_attempt(
    ledger: Ledger, clock: MovableClock
) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis", max_attempts=2).job_id
    for attempt in (1, 2):
        ledger.claim(WORKER, job_id, agent="w", lease_seconds=5)
        assert ledger.get(job_id).attempt == attempt
        clock.advance(seconds=6)
        ledger.expire_lease(Actor("sweeper", "acme"), job_id)
    job = ledger.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "lease_expired"


def test_a_retryable_failure_requeues_with_the_next_attempt(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger, max_attempts=2)
    ledger.report_progress(
        WORKER, job_id, lease_id=lease, percent=50, message="half", findings={"entities": 9}
    )
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    job = ledger.get(job_id)
    assert (job.status, job.attempt, job.lease_id) == (JobStatus.QUEUED, 2, None)
    assert (job.progress, job.progress_message, job.preliminary_findings) == (0, None, {})
    assert job.error == {"code": "rate_limited", "message": "429", "attempt": 1}


def test_the_last_attempt_fails_for_good_even_when_retryable(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger, max_attempts=1)
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    assert ledger.get(job_id).status is JobStatus.FAILED


def test_a_failure_after_a_cancellation_request_is_final(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger, max_attempts=3)
    ledger.cancel(ANALYST, job_id, reason="stop")
    ledger.fail(WORKER, job_id, lease_id=lease, code="rate_limited", message="429", retryable=True)
    assert ledger.get(job_id).status is JobStatus.FAILED


def test_cancelling_a_queued_job_is_immediate(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    ledger.cancel(ANALYST, job_id, reason="duplicate")
    job = ledger.get(job_id)
    assert (job.status, job.cancellation_reason) == (JobStatus.CANCELLED, "duplicate")


def test_cancelling_running_work_asks_the_worker_who_then_acknowledges(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    ledger.cancel(ANALYST, job_id, reason="wrong corpus")
    job = ledger.get(job_id)
    assert (job.status, job.cancellation_requested) == (JobStatus.RUNNING, True)
    ledger.acknowledge_cancellation(WORKER, job_id, lease_id=lease)
    assert ledger.get(job_id).status is JobStatus.CANCELLED
    history = ledger.status_history(job_id)
    assert [(c.trigger, c.to_status) for c in history[-2:]] == [
        ("cancel", "running"),
        ("acknowledge_cancellation", "cancelled"),
    ]


def test_an_expired_lease_on_a_job_asked_to_stop_cancels_it(
    ledger: Ledger, clock: MovableClock
) -> None:
    job_id, _ = running_job(ledger)
    ledger.cancel(ANALYST, job_id)
    clock.advance(seconds=301)
    ledger.expire_lease(Actor("sweeper", "acme"), job_id)
    assert ledger.get(job_id).status is JobStatus.CANCELLED


def test_acknowledging_a_cancellation_nobody_asked_for_is_refused(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    with pytest.raises(InvalidCommand, match="no cancellation was requested"):
        ledger.acknowledge_cancellation(WORKER, job_id, lease_id=lease)


def test_progress_never_goes_down_and_a_refusal_records_nothing(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    ledger.report_progress(WORKER, job_id, lease_id=lease, percent=60)
    before = event_count(ledger, job_id)
    with pytest.raises(InvalidCommand, match="never decreases"):
        ledger.report_progress(WORKER, job_id, lease_id=lease, percent=59)
    with pytest.raises(InvalidCommand, match="percent: Input should be less than or equal to 100"):
        ledger.report_progress(WORKER, job_id, lease_id=lease, percent=101)
    assert event_count(ledger, job_id) == before
    assert ledger.get(job_id).progress == 60


def test_negative_tokens_are_refused(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    with pytest.raises(InvalidCommand, match="input_tokens"):
        ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=-5)


def test_a_result_that_does_not_fit_is_refused_and_the_job_keeps_running(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    with pytest.raises(InvalidResult, match=r"result\.nodes"):
        ledger.complete(WORKER, job_id, lease_id=lease, result={"nodes": "many"})
    assert ledger.get(job_id).status is JobStatus.RUNNING


def test_illegal_transitions_say_what_is_allowed_and_record_nothing(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    with pytest.raises(IllegalTransition) as caught:
        ledger.complete(WORKER, job_id, lease_id="x", result={})
    assert caught.value.current_state == "queued"
    assert caught.value.allowed == ("claim", "cancel")
    assert event_count(ledger, job_id) == 1


def test_usage_cost_accumulates_exactly(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    for _ in range(3):
        ledger.record_usage(
            WORKER, job_id, lease_id=lease, model="gpt-4o-mini", input_tokens=333_333
        )
    job = ledger.get(job_id)
    assert str(job.cost) == "0.14999985"
    assert job.tokens == {"input": 999_999, "output": 0, "cached_input": 0}
