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
    """Five jobs whose histories together hold all seventeen event types."""
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
    return [done, failed, expired, cancelled, acknowledged]
