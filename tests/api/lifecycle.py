"""Moving jobs through their lifecycle with the ledger directly (no worker API yet)."""

from __future__ import annotations

import random
from uuid import UUID

from jobledger.adapters.cli.samples import sample_result
from jobledger.domain.ledger import Ledger
from jobledger.domain.results import JobType
from jobledger.domain.values import Actor


def start(ledger: Ledger, job_id: UUID | str, tenant: str = "acme") -> str:
    worker = Actor("worker-1", tenant)
    lease = ledger.claim(worker, UUID(str(job_id)), agent="worker-1").lease_id
    assert lease is not None
    ledger.start(worker, UUID(str(job_id)), lease_id=lease)
    return lease


def run_to_end(
    ledger: Ledger, job_id: UUID | str, tenant: str = "acme", *, fail: bool = False
) -> None:
    job = UUID(str(job_id))
    worker = Actor("worker-1", tenant)
    lease = start(ledger, job, tenant)
    ledger.report_progress(worker, job, lease_id=lease, percent=50, findings={"entities": 4})
    ledger.record_usage(
        worker, job, lease_id=lease, model="gpt-4o", input_tokens=1000, output_tokens=100
    )
    if fail:
        ledger.fail(worker, job, lease_id=lease, code="corrupt_input", message="not JSON Lines")
        return
    kind = JobType(ledger.get(job).job_type)
    ledger.complete(worker, job, lease_id=lease, result=sample_result(kind, random.Random(7)))
