"""Every route against every kind of caller: the status the role table promises.

A job of another tenant is answered exactly as a job that does not exist, and
refusals record nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.rules  # who may do what: the same on every store

ROLES = ("analyst", "viewer", "admin", "auditor", "worker")
READERS = {"viewer", "admin", "auditor"}
SUBMITTERS = {"analyst", "admin"}
AUDITORS = frozenset({"auditor", "admin"})  # checkpoints and proofs
BAD_TOKENS: dict[str, Callable[[Api], str]] = {
    "expired": lambda api: api.forged(
        exp=int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    ),
    "wrong issuer": lambda api: api.forged(iss="someone-else"),
    "wrong audience": lambda api: api.forged(aud="another-api"),
    "HS256-signed": lambda api: api.forged(alg="HS256"),
    "alg none": lambda api: api.forged(alg="none"),
    "no tenant claim": lambda api: api.forged(tenant=None),
    "not a JWT": lambda api: "not-a-token",
}


LEASE = {"leaseId": "not-the-lease", "commandId": "c-1"}
WORKER_BODIES: dict[str, dict[str, object]] = {
    "start": LEASE,
    "progress": {**LEASE, "percent": 5},
    "findings": {**LEASE, "entities": 1},
    "usage": {**LEASE, "model": "gpt-4o", "inputTokens": 10},
    "heartbeat": LEASE,
    "validation": LEASE,
    "upload": LEASE,
    "complete": {**LEASE, "result": {}},
    "fail": {**LEASE, "code": "boom"},
    "release": LEASE,
    "cancellation-ack": LEASE,
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {job} is a job of tenant acme created by analyst@acme
    allowed: frozenset[str]  # roles that may call it (for their own tenant's jobs)
    ok: int = 200
    body: dict[str, object] | None = None
    per_job: bool = True
    fresh_job: bool = False  # the call changes the job: give each call a new one


ROUTES = [
    Route("POST", "/v1/jobs", frozenset(SUBMITTERS), 202, {"type": "graph_analysis"}, False),
    Route("GET", "/v1/jobs", frozenset({"analyst", *READERS}), per_job=False),
    Route("GET", "/v1/jobs/{job}", frozenset({"analyst", *READERS})),
    Route("GET", "/v1/jobs/{job}?wait=true&timeout=1", frozenset({"analyst", *READERS})),
    Route("GET", "/v1/jobs/{job}/history", frozenset({"analyst", *READERS})),
    Route("GET", "/v1/jobs/{job}/costs", frozenset({"analyst", *READERS})),
    Route("GET", "/v1/jobs/{job}/stream", frozenset({"analyst", *READERS})),
    Route("POST", "/v1/jobs/{job}/cancel", frozenset({"analyst", "admin"}), fresh_job=True),
    Route("GET", "/v1/jobs/{job}/events", frozenset({"auditor"})),
    Route("GET", "/v1/jobs/{job}/replay?version=1", frozenset({"auditor"})),
    Route("GET", "/v1/jobs/{job}/proof", frozenset({"auditor", "admin"})),
    Route("POST", "/v1/audit/checkpoints", frozenset({"auditor", "admin"}), per_job=False),
    Route(
        "GET", "/v1/audit/consistency?from=0&to=0", frozenset({"auditor", "admin"}), per_job=False
    ),
    Route("GET", "/v1/stream", frozenset({"analyst", *READERS}), per_job=False),
    Route("GET", "/v1/stats", frozenset(READERS), per_job=False),
    Route("GET", "/v1/stats/daily", frozenset(READERS), per_job=False),
    Route("GET", "/v1/costs?groupBy=model", frozenset(READERS), per_job=False),
    Route("GET", "/v1/costs?groupBy=day&split=model", frozenset(READERS), per_job=False),
    Route("GET", "/metrics", frozenset(READERS), per_job=False),
    # A claim nobody can satisfy (no job of that type) changes nothing; a worker command under
    # a made-up lease reaches the Job, which refuses it (409): past authorisation.
    Route(
        "POST",
        "/v1/claims",
        frozenset({"worker"}),
        204,
        {"agent": "w", "types": ["threat_modelling"]},
        False,
    ),
    Route(
        "POST",
        "/v1/jobs/batch",
        frozenset(SUBMITTERS),
        200,
        {"jobs": [{"type": "graph_analysis"}]},
        False,
    ),
    Route(
        "POST",
        "/v1/claims/batch",
        frozenset({"worker"}),
        200,
        {"agent": "w", "types": ["threat_modelling"], "max": 3},
        False,
    ),
    *(
        Route("POST", f"/v1/jobs/{{job}}/{action}", frozenset({"worker"}), 409, body)
        for action, body in WORKER_BODIES.items()
    ),
]
PUBLIC = ("/healthz", "/readyz")  # for probes, which send no token: nothing secret there
PROBE_TOKENS: dict[str, Callable[[Api], str | None]] = {
    "no token": lambda api: None,
    "not a JWT": lambda api: "not-a-token",
    **{role: (lambda api, role=role: api.token(role)) for role in ROLES},
}


def call(api: Api, route: Route, token: str | None, job: str) -> tuple[int, dict[str, str], str]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    url = route.path.replace("{job}", job)
    with api.http.stream(route.method, url, json=route.body, headers=headers) as answer:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return answer.status_code, dict(answer.headers), ""  # a live stream: do not wait
        return answer.status_code, dict(answer.headers), answer.read().decode()


@pytest.fixture(scope="module")
def job_of(api: Api) -> Callable[[], str]:
    analyst = api.as_role("analyst", "acme", "analyst@acme")

    def submit() -> str:
        answer = analyst.post("/v1/jobs", json={"type": "entity_extraction"})
        assert answer.status_code == 202
        return str(answer.json()["id"])

    return submit


@pytest.fixture(scope="module")
def shared_job(api: Api, job_of: Callable[[], str]) -> str:
    job = job_of()
    api.wait_for_read_models()
    return job


def _job_for(route: Route, shared_job: str, job_of: Callable[[], str]) -> str:
    return job_of() if route.fresh_job else shared_job


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("bad", list(BAD_TOKENS))
def test_a_bad_token_is_401_with_a_bearer_challenge(
    api: Api, route: Route, bad: str, shared_job: str, job_of: Callable[[], str]
) -> None:
    end = api.ledger.recorder.max_notification_id()
    status, headers, body = call(api, route, BAD_TOKENS[bad](api), shared_job)
    assert status == 401, body
    assert headers["www-authenticate"].startswith('Bearer realm="jobledger"')
    assert headers["content-type"] == "application/problem+json"
    assert api.ledger.recorder.max_notification_id() == end


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_no_token_is_401(api: Api, route: Route, shared_job: str) -> None:
    status, headers, _ = call(api, route, None, shared_job)
    assert status == 401
    assert headers["www-authenticate"] == 'Bearer realm="jobledger"'


@pytest.mark.parametrize("path", PUBLIC)
@pytest.mark.parametrize("token", list(PROBE_TOKENS))
def test_probes_answer_whatever_token_comes_or_none(api: Api, path: str, token: str) -> None:
    probe = Route("GET", path, frozenset(), per_job=False)
    status, _, body = call(api, probe, PROBE_TOKENS[token](api), "")
    assert status == 200, body


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_table_says(
    api: Api, route: Route, role: str, shared_job: str, job_of: Callable[[], str]
) -> None:
    job = _job_for(route, shared_job, job_of)
    before = api.ledger.recorder.max_notification_id()
    status, _, body = call(api, route, api.token(role, "acme", "analyst@acme"), job)
    if role in route.allowed:
        assert status in (route.ok, 202), body
    else:
        assert status == 403, body
        assert role in body  # the problem names the roles the token had
        assert api.ledger.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.per_job], ids=lambda r: f"{r.method} {r.path}"
)
def test_another_tenants_job_is_404_exactly_as_a_missing_one(
    api: Api, route: Route, shared_job: str, job_of: Callable[[], str]
) -> None:
    job = _job_for(route, shared_job, job_of)
    intruder = api.token(["analyst", *READERS, "worker"], "globex", "analyst@acme")
    end = api.ledger.recorder.max_notification_id()
    status, _, body = call(api, route, intruder, job)
    missing = str(uuid4())
    status_missing, _, body_missing = call(api, route, intruder, missing)
    assert status == status_missing == 404
    assert body.replace(job, "ID") == body_missing.replace(missing, "ID")
    assert api.ledger.recorder.max_notification_id() == end


def test_an_analyst_cannot_see_a_colleagues_job(api: Api, shared_job: str) -> None:
    colleague = api.as_role("analyst", "acme", "bob@acme")
    assert colleague.get(f"/v1/jobs/{shared_job}").status_code == 404
    assert colleague.post(f"/v1/jobs/{shared_job}/cancel").status_code == 404
    assert shared_job not in colleague.get("/v1/jobs").text


def test_other_tenants_lists_and_reports_hold_nothing_of_acme(api: Api, shared_job: str) -> None:
    intruder = api.as_role(["analyst", *READERS], "globex")
    assert intruder.get("/v1/jobs").json()["items"] == []
    assert intruder.get("/v1/stats").json()["items"] == []
    assert intruder.get("/v1/costs").json()["items"] == []
    assert 'tenant="acme"' not in intruder.get("/metrics").text


def test_reading_roles_do_not_widen_an_analysts_cancel(api: Api, job_of: Callable[[], str]) -> None:
    colleagues_job = job_of()  # submitted by analyst@acme
    both = api.as_role(["analyst", "viewer", "auditor"], "acme", "carol@acme")
    end = api.ledger.recorder.max_notification_id()
    refused = both.post(f"/v1/jobs/{colleagues_job}/cancel")
    assert refused.status_code == 403
    assert api.ledger.recorder.max_notification_id() == end
    own = both.post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"]
    assert both.post(f"/v1/jobs/{own}/cancel").status_code == 200


def test_an_auditor_reads_events_and_replays_without_what_others_submitted(api: Api) -> None:
    creator = api.as_role(["analyst", "auditor"], "acme", "ina@acme")
    job = creator.post(
        "/v1/jobs",
        json={
            "type": "graph_analysis",
            "inputs": [{"name": "secret.csv", "mediaType": "text/csv", "sizeBytes": 1}],
            "config": {"prompt": "secret"},
            "metadata": {"case": "secret"},
        },
    ).json()["id"]
    auditor = api.as_role("auditor")
    submitted = auditor.get(f"/v1/jobs/{job}/events").json()["items"][0]
    assert submitted["type"] == "JobSubmitted"
    private = ("inputs", "config", "metadata")
    assert [submitted["data"][name] for name in private] == [None, None, None]
    replayed = auditor.get(f"/v1/jobs/{job}/replay", params={"version": 1}).json()
    assert [replayed[name] for name in private] == [None, None, None]
    own = creator.get(f"/v1/jobs/{job}/events").json()["items"][0]
    assert own["data"]["inputs"][0]["name"] == "secret.csv"
    assert (own["data"]["config"], own["data"]["metadata"]) == (
        {"prompt": "secret"},
        {"case": "secret"},
    )
    own_replay = creator.get(f"/v1/jobs/{job}/replay", params={"version": 1}).json()
    assert (own_replay["config"], own_replay["metadata"]) == (
        {"prompt": "secret"},
        {"case": "secret"},
    )


@pytest.mark.parametrize(
    "header", [{"alg": "€"}, {"kid": "€"}, {"alg": "RS256\r\nX-Evil: 1"}, {"alg": 'a"b\\c'}]
)
def test_a_crafted_token_header_is_a_plain_401(api: Api, header: dict[str, str]) -> None:
    import base64
    import json

    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    token = f"{part({'typ': 'JWT', **header})}.{part({'sub': 'x'})}.c2ln"
    answer = api.http.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.isascii()
    assert "\r" not in challenge
    assert "\n" not in challenge
    assert "X-Evil" not in answer.headers
