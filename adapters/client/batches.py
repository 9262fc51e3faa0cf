"""The requests of batches: several submits, or several claims, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobledger.adapters.client.claims import Agent
from jobledger.adapters.client.core import Call, Json, camel, correlated, new_id


def submit_many_call(jobs: Sequence[Mapping[str, Any]], correlation_id: str | None = None) -> Call:
    """``POST /v1/jobs/batch``: each job as ``submit``'s fields (snake_case, with
    ``type``), each given an idempotency key unless it names one, so a retry is safe."""
    items = [
        {camel(k): v for k, v in {"idempotency_key": new_id(), **job}.items() if v is not None}
        for job in jobs
    ]
    return Call("POST", "/v1/jobs/batch", {"jobs": items}, headers=correlated(correlation_id))


def claim_many_call(agent: Agent, most: int, wait_seconds: int) -> Call:
    """``POST /v1/claims/batch``: up to ``most`` jobs; its command id makes a retry
    after a lost answer get the same claims back."""
    body: Json = {
        "agent": agent.name,
        "types": list(agent.types),
        "leaseSeconds": agent.lease_seconds,
        "waitSeconds": wait_seconds,
        "max": most,
        "commandId": new_id(),
    }
    if agent.pool is not None:
        body["pool"] = agent.pool
    return Call("POST", "/v1/claims/batch", body, read_timeout=wait_seconds + 15)
