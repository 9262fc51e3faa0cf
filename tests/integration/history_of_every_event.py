"""Write a history that contains every event type, through the Ledger's commands."""

from __future__ import annotations

from uuid import UUID

from jobledger.domain.ledger import Ledger
from jobledger.domain.values import Actor

ANALYST = Actor("alice@acme", "acme")
WORKER = Actor("worker-1", "acme")


def lease_of(ledger: Ledger, job_id: UUID) -> str:
    lease = ledger.get(job_id).lease_id
    assert lease is not None
    return lease


def write_every_event(ledger: Ledger, advance_clock: object) -> list[UUID]:
    """Jobs whose histories together hold every event type."""
    inputs = [
        {"name": "a.pdf", "media_type": "application/pdf", "size_bytes": 10, "uri": "s3://b/a"}
    ]
    done = ledger.submit(
        ANALYST,
        "entity_extraction",
        investigation_id="INV-1",
        inputs=inputs,
        config={"depth": 2, "labels": ["person"]},
        metadata={"ticket": "T-9"},
    ).job_id
    ledger.claim(WORKER, done, agent="w1", pool=None)
    ledger.release(WORKER, done, lease_id=lease_of(ledger, done), reason="draining")
    ledger.claim(WORKER, done, agent="w2")
    lease = lease_of(ledger, done)
    ledger.start(WORKER, done, lease_id=lease)
    ledger.report_progress(
        WORKER, done, lease_id=lease, percent=40, message="m", findings={"entities": 3}
    )
    ledger.record_usage(
        WORKER,
        done,
        lease_id=lease,
        model="gpt-4o",
        input_tokens=1234,
        output_tokens=56,
        cached_input_tokens=7,
    )
    ledger.record_usage(WORKER, done, lease_id=lease, model="not-in-price-book", input_tokens=9)
    ledger.append_steps(
        WORKER,
        done,
        lease_id=lease,
        steps=[
            {
                "workId": 1,
                "actionName": "classify_documents",
                "category": "Document Classification",
                "success": True,
                "executedAt": "2026-11-01T09:00:00Z",
                "ragResponse": {"answer": "a passport", "citations": [{"chunk": 3}]},
                "toolCalls": [{"toolName": "search", "success": True, "rawContent": {"n": 2}}],
                "model": "gpt-4o",
                "inputTokens": 100,
            },
            {
                "workId": 2,
                "actionName": "check",
                "success": False,
                "executedAt": "2026-11-01T09:00:01Z",
            },
        ],
    )
    ledger.heartbeat(WORKER, done, lease_id=lease)
    ledger.begin_validation(WORKER, done, lease_id=lease)
    ledger.begin_upload(WORKER, done, lease_id=lease)
    ledger.complete(
        WORKER,
        done,
        lease_id=lease,
        result={"entities": 3, "findings": [{"kind": "person", "label": "Bob", "confidence": 0.5}]},
    )

    failed = ledger.submit(ANALYST, "graph_analysis", max_attempts=2).job_id
    for retryable in (True, True):
        ledger.claim(WORKER, failed, agent="w1")
        ledger.start(WORKER, failed, lease_id=lease_of(ledger, failed))
        ledger.fail(
            WORKER,
            failed,
            lease_id=lease_of(ledger, failed),
            code="rate_limited",
            message="429",
            retryable=retryable,
        )
        advance_clock(seconds=300)  # type: ignore[operator]  # past the retry's back-off

    expired = ledger.submit(ANALYST, "anomaly_detection").job_id
    ledger.claim(WORKER, expired, agent="w3", lease_seconds=30)
    advance_clock(seconds=31)  # type: ignore[operator]
    ledger.expire_lease(Actor("sweeper", "acme"), expired)

    cancelled = ledger.submit(ANALYST, "threat_modelling").job_id
    ledger.cancel(ANALYST, cancelled, reason="duplicate")

    acknowledged = ledger.submit(ANALYST, "predictive_modelling").job_id
    ledger.claim(WORKER, acknowledged, agent="w4")
    ledger.start(WORKER, acknowledged, lease_id=lease_of(ledger, acknowledged))
    ledger.cancel(ANALYST, acknowledged, reason="wrong corpus")
    ledger.acknowledge_cancellation(WORKER, acknowledged, lease_id=lease_of(ledger, acknowledged))
    return [
        done,
        failed,
        expired,
        cancelled,
        acknowledged,
        *write_task_events(ledger, advance_clock),
    ]


def write_task_events(ledger: Ledger, advance_clock: object) -> list[UUID]:
    """Jobs of tasks: a verdict (success, failure, renewal, timeout), no verdict, a cancel."""
    from jobledger.domain.task_work import task_id_of

    def named(worker: str) -> Actor:
        return Actor(worker, "acme")

    def lease(job_id: UUID, worker: str) -> str:
        granted = ledger.tasks.claim(named(worker), job_id, lease_seconds=30).lease_id
        assert granted is not None
        return granted

    decided = ledger.submit(
        ANALYST, "threat_modelling", subject="sha256:ab", workers=["yara", "av", "box"]
    ).job_id
    held = lease(decided, "yara")
    ledger.tasks.update(
        named("yara"), decided, task_id_of(decided, "yara"), lease_id=held, state="executing"
    )
    ledger.tasks.update(
        named("yara"),
        decided,
        task_id_of(decided, "yara"),
        lease_id=held,
        state="successful",
        score=80,
        analyses=["an-1"],
    )
    ledger.tasks.update(
        named("av"),
        decided,
        task_id_of(decided, "av"),
        lease_id=lease(decided, "av"),
        state="failed",
        error_code="crashed",
        error_message="oom",
    )
    lease(decided, "box")
    advance_clock(seconds=31)  # type: ignore[operator]
    ledger.tasks.expire_lease(Actor("sweeper", "acme"), decided, task_id_of(decided, "box"))

    undecided = ledger.submit(
        ANALYST, "threat_modelling", subject="sha256:cd", workers=["yara"]
    ).job_id
    ledger.tasks.update(
        named("yara"),
        undecided,
        task_id_of(undecided, "yara"),
        lease_id=lease(undecided, "yara"),
        state="failed",
        error_code="crashed",
    )

    dropped = ledger.submit(
        ANALYST, "threat_modelling", subject="sha256:ef", workers=["yara"]
    ).job_id
    ledger.cancel(ANALYST, dropped, reason="not needed")
    return [decided, undecided, dropped]
