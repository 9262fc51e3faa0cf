"""Correlation ids over a real server, on both stores: an auditor follows one workflow
across services by the id each write names (X-Correlation-ID, else a W3C traceparent),
and a job's worker commands continue the workflow it was submitted in."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.rules  # header rules; the events' round trip is the store contract's

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


class Tenant:
    """An analyst, a worker and an auditor of a fresh tenant."""

    def __init__(self, api: Api) -> None:
        self.name = f"t-{uuid4().hex[:10]}"
        self.analyst = api.as_role("analyst", self.name)
        self.worker = api.as_role("worker", self.name)
        self.auditor = api.as_role("auditor", self.name)

    def submit(self, **headers: str) -> httpx.Response:
        answer = self.analyst.post("/v1/jobs", json={"type": "graph_analysis"}, headers=headers)
        assert answer.status_code == 202, answer.text
        return answer

    def recorded(self, job_id: str) -> list[tuple[str, str]]:
        """(event type, correlation id) of every event of the job, as an auditor reads them."""
        answer = self.auditor.get(f"/v1/jobs/{job_id}/events")
        assert answer.status_code == 200, answer.text
        return [(e["type"], e["correlationId"]) for e in answer.json()["items"]]

    def claim(self, **headers: str) -> httpx.Response:
        body = {"agent": "agent-1", "waitSeconds": 5}
        answer = self.worker.post("/v1/claims", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer

    def command(
        self, job_id: str, action: str, lease_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"leaseId": lease_id, "commandId": uuid4().hex}
        return self.worker.post(f"/v1/jobs/{job_id}/{action}", json=body, headers=headers)


def test_a_submit_records_its_x_correlation_id_on_the_event_and_echoes_it(api: Api) -> None:
    tenant = Tenant(api)
    answer = tenant.submit(
        **{"X-Correlation-ID": "checkout-42.order:7", "traceparent": TRACEPARENT}
    )
    assert answer.headers["X-Correlation-ID"] == "checkout-42.order:7"
    assert tenant.recorded(answer.json()["id"]) == [("JobSubmitted", "checkout-42.order:7")]


def test_without_x_correlation_id_the_traceparent_trace_id_is_the_workflow(api: Api) -> None:
    tenant = Tenant(api)
    answer = tenant.submit(traceparent=TRACEPARENT)
    assert answer.headers["X-Correlation-ID"] == TRACE
    assert tenant.recorded(answer.json()["id"]) == [("JobSubmitted", TRACE)]


@pytest.mark.parametrize(
    "traceparent",
    [
        TRACEPARENT.upper(),  # hex must be lowercase
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # an all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # an all-zero parent id
        f"ff-{TRACE}-00f067aa0ba902b7-01",  # version ff is forbidden
        f"{TRACEPARENT}-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-00f067aa0ba902b7-01",  # a short trace id
    ],
)
def test_a_malformed_traceparent_is_ignored_and_the_server_makes_an_id(
    api: Api, traceparent: str
) -> None:
    tenant = Tenant(api)
    answer = tenant.submit(traceparent=traceparent)
    made = answer.headers["X-Correlation-ID"]
    assert TRACE not in made.lower()
    assert tenant.recorded(answer.json()["id"]) == [("JobSubmitted", made)]


def test_a_later_traceparent_version_gives_its_trace_id(api: Api) -> None:
    tenant = Tenant(api)
    answer = tenant.submit(traceparent=f"01-{TRACE}-00f067aa0ba902b7-01-what-comes-next")
    assert answer.headers["X-Correlation-ID"] == TRACE


def test_with_neither_header_each_submit_starts_a_workflow_of_its_own(api: Api) -> None:
    tenant = Tenant(api)
    first, second = tenant.submit(), tenant.submit()
    made = {first.headers["X-Correlation-ID"], second.headers["X-Correlation-ID"]}
    assert len(made) == 2
    recorded = tenant.recorded(first.json()["id"]) + tenant.recorded(second.json()["id"])
    assert {correlation for _, correlation in recorded} == made


BAD_IDS = ["", "has space", "x" * 129, "semi;colon", "naïve", "new\tline"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_x_correlation_id_on_a_submit_is_refused_naming_the_header(
    api: Api, bad: str
) -> None:
    tenant = Tenant(api)
    answer = tenant.analyst.post(
        "/v1/jobs",
        json={"type": "graph_analysis"},
        headers={"X-Correlation-ID": bad.encode()},
    )
    assert answer.status_code == 422, answer.text
    assert "X-Correlation-ID" in answer.json()["detail"]
    api.wait_for_read_models()
    assert tenant.auditor.get("/v1/jobs").json()["items"] == []


def test_a_bad_x_correlation_id_on_a_cancel_a_claim_or_a_command_changes_nothing(
    api: Api,
) -> None:
    tenant = Tenant(api)
    bad = {"X-Correlation-ID": "not ok"}
    job_id = tenant.submit().json()["id"]
    api.wait_for_read_models()
    cancel = tenant.analyst.post(f"/v1/jobs/{job_id}/cancel", json={}, headers=bad)
    claim = tenant.worker.post("/v1/claims", json={"agent": "agent-1"}, headers=bad)
    assert (cancel.status_code, claim.status_code) == (422, 422)
    lease_id = tenant.claim().json()["leaseId"]
    start = tenant.command(job_id, "start", lease_id, bad)
    assert start.status_code == 422, start.text
    assert all("X-Correlation-ID" in a.json()["detail"] for a in (cancel, claim, start))
    assert [kind for kind, _ in tenant.recorded(job_id)] == ["JobSubmitted", "JobClaimed"]


def test_worker_commands_without_a_header_continue_the_jobs_workflow(api: Api) -> None:
    tenant = Tenant(api)
    job_id = tenant.submit(**{"X-Correlation-ID": "case-7"}).json()["id"]
    api.wait_for_read_models()
    claim = tenant.claim()
    assert claim.json()["correlationId"] == "case-7"
    assert claim.headers["X-Correlation-ID"] == "case-7"
    lease_id = claim.json()["leaseId"]
    for action in ("start", "heartbeat", "validation"):
        answer = tenant.command(job_id, action, lease_id)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Correlation-ID"] == "case-7"
    assert {correlation for _, correlation in tenant.recorded(job_id)} == {"case-7"}


def test_a_worker_command_with_its_own_header_is_recorded_under_it(api: Api) -> None:
    tenant = Tenant(api)
    job_id = tenant.submit(**{"X-Correlation-ID": "case-8"}).json()["id"]
    api.wait_for_read_models()
    claim = tenant.claim(traceparent=TRACEPARENT)
    assert claim.headers["X-Correlation-ID"] == TRACE
    assert claim.json()["correlationId"] == "case-8"  # the job's workflow, to carry on
    lease_id = claim.json()["leaseId"]
    started = tenant.command(job_id, "start", lease_id, {"X-Correlation-ID": "gpu-run-3"})
    assert started.headers["X-Correlation-ID"] == "gpu-run-3"
    assert tenant.recorded(job_id) == [
        ("JobSubmitted", "case-8"),
        ("JobClaimed", TRACE),
        ("JobStarted", "gpu-run-3"),
    ]


def test_a_cancel_is_recorded_under_its_own_workflow(api: Api) -> None:
    tenant = Tenant(api)
    job_id = tenant.submit(**{"X-Correlation-ID": "case-9"}).json()["id"]
    plain = tenant.analyst.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "duplicate"})
    assert plain.status_code == 200, plain.text
    made = plain.headers["X-Correlation-ID"]
    assert made != "case-9"
    assert tenant.recorded(job_id) == [("JobSubmitted", "case-9"), ("JobCancelled", made)]
