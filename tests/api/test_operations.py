"""Health, readiness, metrics and the API's own docs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobledger.domain.values import Actor
from tests.api.conftest import Api, run_api


def test_healthz_needs_no_token(api: Api) -> None:
    answer = api.http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_readyz_answers_a_probe_without_a_token_with_positions_and_lag(api: Api) -> None:
    api.wait_for_read_models()
    answer = api.http.get("/readyz")
    assert answer.status_code == 200
    ready = answer.json()
    assert ready["status"] == "ok"
    assert ready["lag"] == 0
    assert ready["position"] == ready["ledgerPosition"]


@pytest.fixture
def lagging(tmp_path: Path) -> Iterator[Api]:
    """A server whose read models nobody keeps (as when the projector process is down)."""
    yield from run_api(tmp_path, projections=False, ready_max_lag=2)


def test_readyz_is_503_without_a_token_when_the_read_models_fall_behind(lagging: Api) -> None:
    assert lagging.http.get("/readyz").status_code == 200
    for _ in range(3):
        lagging.ledger.submit(Actor("a", "acme"), "graph_analysis")
    answer = lagging.http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["lag"] == 3
    assert "3 log entries behind" in answer.json()["detail"]


def test_metrics_still_refuse_a_scrape_without_a_token(api: Api) -> None:
    answer = api.http.get("/metrics")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "jobledger_jobs" not in answer.text


def test_metrics_count_requests_by_route_and_show_the_tenants_jobs(api: Api) -> None:
    analyst = api.as_role("analyst", "metrics-co", "m@metrics-co")
    for _ in range(2):
        analyst.post("/v1/jobs", json={"type": "graph_analysis"})
    api.wait_for_read_models()
    page = api.as_role("viewer", "metrics-co").get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert 'jobledger_jobs{status="queued",tenant="metrics-co"} 2.0' in text
    assert 'jobledger_queue_depth{tenant="metrics-co"} 2.0' in text
    assert 'route="/v1/jobs",status="202"' in text
    assert (
        'jobledger_http_request_duration_seconds_bucket{le="0.01",method="POST",route="/v1/jobs"}'
        in text
    )
    assert 'jobledger_projection_lag_events{projection="job_summaries"}' in text
    assert "jobledger_events_appended_total" in text
    assert 'tenant="acme"' not in text


def test_openapi_and_interactive_docs_are_served(api: Api) -> None:
    schema = api.http.get("/openapi.json").json()
    assert schema["info"]["title"] == "jobledger"
    assert "/v1/jobs/{job_id}" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    probes = {path: schema["paths"][path]["get"] for path in ("/healthz", "/readyz")}
    for path, operation in probes.items():
        assert "security" not in operation, path  # a container probe sends no token
        assert "401" not in operation["responses"], path
    scrape = schema["paths"]["/metrics"]["get"]
    assert scrape["security"] == [{"HTTPBearer": []}]
    assert "401" in scrape["responses"]
    assert "swagger" in api.http.get("/docs").text.lower()


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[Api]:
    """A server that waits at most a second for SQLite's write lock."""
    yield from run_api(tmp_path, sqlite_lock_timeout_seconds=1)


def test_a_locked_store_is_503_and_records_nothing(impatient: Api, tmp_path: Path) -> None:
    locker = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        answer = impatient.as_role("analyst").post("/v1/jobs", json={"type": "graph_analysis"})
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["code"] == "store_unavailable"
    assert impatient.ledger.recorder.max_notification_id() in (None, 0)
    again = impatient.as_role("analyst").post("/v1/jobs", json={"type": "graph_analysis"})
    assert again.status_code == 202
