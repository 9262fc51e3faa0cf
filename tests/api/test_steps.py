"""The step log and the analysis report over HTTP, on a real server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import httpx
import pytest

from jobledger.adapters.http.report import REPORT_STATUS
from jobledger.domain import bounds
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.values import Actor
from tests.api.conftest import Api
from tests.api.lifecycle import start

WORKER = Actor("worker-1", "acme")
SEARCH = {
    "toolName": "search_individual",
    "engineCode": "aml-search",
    "engineName": "AML Search - Person",
    "params": {"name": "Bob"},
    "success": True,
    "startedAt": "2026-11-01T09:00:00.500Z",
    "executionTimeMs": 420,
    "rawContent": {"hits": [{"name": "Bob", "score": 0.12}]},
    "fallbackToRag": False,
    "selectionReason": "a person's name",
}


def step(work_id: int, action: str = "classify_documents", **more: Any) -> dict[str, Any]:
    return {
        "workId": work_id,
        "actionName": action,
        "category": "Document Classification",
        "query": f"query {work_id}",
        "reasoning": f"because {work_id}",
        "success": True,
        "iteration": work_id,
        "durationMs": 100 * work_id,
        "executedAt": f"2026-11-01T09:00:0{work_id}Z",
        "verificationStatus": "passed",
        "targetItemIds": [f"item_{work_id}"],
        **more,
    }


def running(api: Api, job_type: str = "graph_analysis") -> tuple[str, str]:
    answer = api.as_role("analyst").post("/v1/jobs", json={"type": job_type})
    job = str(answer.json()["id"])
    return job, start(api.ledger, job)


def append(
    worker: httpx.Client, job: str, lease: str, command: str, steps: list[dict[str, Any]]
) -> httpx.Response:
    body = {"leaseId": lease, "commandId": command, "steps": steps}
    return worker.post(f"/v1/jobs/{job}/steps", json=body)


def test_a_workers_steps_are_listed_in_order_priced_and_make_the_report(api: Api) -> None:
    job, lease = running(api, "threat_modelling")
    worker = api.as_role("worker")
    priced = step(2, "screen_person", category="mcp", toolCalls=[SEARCH], model="gpt-4o")
    priced["inputTokens"] = 1_000_000  # $2.50
    assert append(worker, job, lease, "b1", [step(1), priced]).status_code == 200
    again = append(worker, job, lease, "b1", [step(1), priced])  # a retry: recorded once
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert append(worker, job, lease, "b2", [step(3, success=False)]).status_code == 200
    result = {"risk_score": 72, "threats": [{"name": "fraud", "severity": "high", "likelihood": 1}]}
    result["findings"] = [{"kind": "threat", "label": "fraud", "severity": "high"}]
    api.ledger.complete(WORKER, UUID(job), lease_id=lease, result=result)
    api.wait_for_read_models()

    viewer = api.as_role("viewer")
    listed = viewer.get(f"/v1/jobs/{job}/steps").json()["items"]
    assert [(s["step"], s["workId"]) for s in listed] == [(1, 1), (2, 2), (3, 3)]
    assert listed[1]["cost"] == {"amount": "2.50", "currency": "USD"}
    assert listed[1]["mcpToolCalls"] == [SEARCH | {"startedAt": "2026-11-01T09:00:00.500000Z"}]
    assert listed[0]["cost"] is None
    query = '{ job(id: "%s") { steps { step workId actionName cost { amount } mcpToolCalls } } }'
    through_graphql = viewer.post("/graphql", json={"query": query % job}).json()["data"]
    assert [
        (s["step"], s["workId"], s["actionName"], s["cost"], s["mcpToolCalls"])
        for s in through_graphql["job"]["steps"]
    ] == [
        (s["step"], s["workId"], s["actionName"], s["cost"] and {"amount": s["cost"]["amount"]},
         s["mcpToolCalls"])
        for s in listed
    ]  # fmt: skip

    report = viewer.get(f"/v1/jobs/{job}/report").json()
    audit = [{k: v for k, v in s.items() if k in report["agentAuditLog"][0]} for s in listed]
    assert report["agentAuditLog"] == audit
    assert report["status"] == "completed"
    assert report["riskAssessment"] == {
        "riskLevel": "high",
        "riskScore": 72,
        "riskFactors": ["fraud"],
    }
    assert [(f["id"], f["result"]) for f in report["findings"]] == [("af_1", "failed")]
    metadata = report["systemMetadata"]
    assert metadata["totalIterations"] == 3
    assert metadata["completedWorkIds"] == [1, 2]
    assert [w["reason"] for w in metadata["workflowHistory"]] == [s["reasoning"] for s in listed]
    envelope = viewer.get(f"/v1/jobs/{job}").json()
    assert report["processingTimeMs"] == envelope["processingTimeMs"] >= 0
    assert envelope["cost"]["amount"] == "2.50"
    assert (report["completedAt"], report["createdAt"]) == (
        envelope["finishedAt"],
        envelope["createdAt"],
    )


@pytest.mark.rules
@pytest.mark.parametrize(
    ("steps", "status", "names"),
    [
        (
            [step(1, toolCalls=[SEARCH | {"rawContent": {"x": "a" * 65_536}}])],
            413,
            "steps.0.toolCalls.0.rawContent",
        ),
        ([step(1)] * (bounds.MAX_STEPS_PER_BATCH + 1), 422, "steps"),
        ([step(1, executedAt="2026-11-01T09:00:00")], 422, "executedAt"),
        ([step(1, durationMs=-1)], 422, "durationMs"),
        ([step(1, inputTokens=3)], 422, "model"),
    ],
    ids=["raw content", "batch", "naive time", "negative duration", "tokens without model"],
)
def test_steps_past_their_bounds_are_refused_and_nothing_is_recorded(
    api: Api, steps: list[dict[str, Any]], status: int, names: str
) -> None:
    job, lease = running(api)
    version = api.ledger.get(UUID(job)).version
    answer = append(api.as_role("worker"), job, lease, "too-big", steps)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert names in answer.text
    assert api.ledger.get(UUID(job)).version == version


@pytest.mark.rules
def test_only_the_lease_holding_worker_appends_steps(api: Api) -> None:
    job, lease = running(api)
    assert append(api.as_role("worker"), job, "stale", "s1", [step(1)]).status_code == 409
    assert append(api.as_role("viewer"), job, lease, "s2", [step(1)]).status_code == 403
    assert append(api.as_role("worker", "globex"), job, lease, "s3", [step(1)]).status_code == 404
    api.wait_for_read_models()
    assert api.as_role("viewer").get(f"/v1/jobs/{job}/steps").json()["items"] == []


@pytest.mark.rules
def test_the_report_long_poll_returns_on_completion_and_on_time_otherwise(api: Api) -> None:
    """Both waits run side by side, so the test costs the smallest timeout allowed once."""
    finishing, lease = running(api)
    waiting, _ = running(api)
    viewer = api.as_role("viewer")
    smallest = {"waitForReport": "true", "timeoutSeconds": bounds.REPORT_WAIT_MIN_SECONDS}

    def timed(job: str) -> tuple[float, dict[str, Any]]:
        began = time.monotonic()
        answer = viewer.get(f"/v1/jobs/{job}/report", params=smallest)
        assert answer.status_code == 200, answer.text
        return time.monotonic() - began, answer.json()

    with ThreadPoolExecutor(2) as pool:
        unfinished = pool.submit(timed, waiting)
        early = pool.submit(timed, finishing)
        threading.Timer(
            0.3,
            api.ledger.complete,
            args=(WORKER, UUID(finishing)),
            kwargs={"lease_id": lease, "result": {}},
        ).start()
        took, report = early.result()
        assert report["status"] == "completed"
        assert took < 5, took
        took, report = unfinished.result()
        assert report["status"] == "processing"
        assert bounds.REPORT_WAIT_MIN_SECONDS - 0.1 < took < bounds.REPORT_WAIT_MIN_SECONDS + 4


@pytest.mark.rules
@pytest.mark.parametrize("seconds", [bounds.REPORT_WAIT_MIN_SECONDS - 1, 301, "soon"])
def test_a_report_wait_outside_its_bounds_is_refused(api: Api, seconds: object) -> None:
    job, _ = running(api)
    params = {"waitForReport": "true", "timeoutSeconds": seconds}
    answer = api.as_role("viewer").get(f"/v1/jobs/{job}/report", params=params)
    assert answer.status_code == 422
    assert "timeoutSeconds" in answer.text


def test_every_lifecycle_status_has_a_report_status() -> None:
    assert set(REPORT_STATUS) == set(JobStatus)
    assert set(REPORT_STATUS.values()) == {"pending", "processing", "completed", "failed"}
