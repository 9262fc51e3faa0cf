"""GET /v1/jobs/{id} as the fast path answers it (``adapters/http/fast_path.py``): the same
status, headers and bytes as the route gives, for every kind of caller and job, and
everything it leaves to the app answered exactly as before.

``?wait=false`` asks the same thing through FastAPI's route (the fast path takes no query),
so each request is compared with its routed twin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from starlette.responses import Response
from starlette.types import Scope

from jobledger.adapters.http.fast_path import JobReadFastPath
from tests.api.conftest import Api
from tests.api.lifecycle import run_to_end

JOB = {"type": "entity_extraction", "config": {"depth": 2}, "metadata": {"ticket": "T-9"}}


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """What a client sees, but the clock (``date``)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, headers, response.content


def same_as_routed(client: httpx.Client, path: str, **headers: str) -> httpx.Response:
    fast = client.get(path, headers=headers)
    routed = client.get(path, params={"wait": "false"}, headers=headers)
    assert answer(fast) == answer(routed), path
    return fast


def test_a_plain_read_answers_what_the_route_answers_to_every_reader(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    creator = api.as_role("analyst", tenant, "creator@x")
    queued = creator.post("/v1/jobs", json=JOB).json()["id"]
    completed = creator.post("/v1/jobs", json=JOB).json()["id"]
    run_to_end(api.ledger, completed, tenant)
    api.wait_for_read_models()
    readers = [creator, *(api.as_role(role, tenant) for role in ("viewer", "admin", "auditor"))]
    for job_id in (queued, completed):
        for reader in readers:
            found = same_as_routed(reader, f"/v1/jobs/{job_id}")
            assert found.status_code == 200
            assert found.headers["ETag"] == f'"{found.json()["version"]}"'
        mine = creator.get(f"/v1/jobs/{job_id}").json()
        assert mine["config"] == {"depth": 2}  # the creator's own part, to the creator only
        assert api.as_role("viewer", tenant).get(f"/v1/jobs/{job_id}").json()["config"] is None


def test_what_the_fast_path_leaves_to_the_app_is_answered_as_before(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    job_id = api.as_role("analyst", tenant, "creator@x").post("/v1/jobs", json=JOB).json()["id"]
    api.wait_for_read_models()
    viewer = api.token("viewer", tenant)
    past = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
    callers = {
        "no token": {},
        "not a JWT": {"Authorization": "Bearer nonsense"},
        "another scheme": {"Authorization": f"Basic {viewer}"},
        "spaces before the token": {"Authorization": f"Bearer   {viewer}"},
        "the scheme in lowercase": {"Authorization": f"bearer {viewer}"},
        "expired": {"Authorization": f"Bearer {api.forged(tenant=tenant, exp=past)}"},
        "signed with a secret": {
            "Authorization": f"Bearer {api.forged(tenant=tenant, alg='HS256')}"
        },
        "a worker": {"Authorization": f"Bearer {api.token('worker', tenant)}"},
        "another analyst": {"Authorization": f"Bearer {api.token('analyst', tenant)}"},
        "another tenant": {"Authorization": f"Bearer {api.token('viewer')}"},
    }
    statuses = {}
    for name, headers in callers.items():
        statuses[name] = same_as_routed(api.http, f"/v1/jobs/{job_id}", **headers).status_code
    assert statuses == {
        "no token": 401,
        "not a JWT": 401,
        "another scheme": 401,
        "spaces before the token": 200,
        "the scheme in lowercase": 200,
        "expired": 401,
        "signed with a secret": 401,
        "a worker": 403,
        "another analyst": 404,
        "another tenant": 404,
    }
    reader = api.client(viewer)
    for path, status in (
        (f"/v1/jobs/{uuid4()}", 404),  # no such job
        (f"/v1/jobs/{job_id.upper()}", 200),  # another spelling of the id
        (f"/v1/jobs/{job_id.replace('-', '')}", 200),
        ("/v1/jobs/not-a-uuid", 422),
    ):
        assert same_as_routed(reader, path).status_code == status, path


def test_a_fast_read_is_counted_under_its_route(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    job_id = api.as_role("analyst", tenant).post("/v1/jobs", json=JOB).json()["id"]
    api.wait_for_read_models()
    reader = api.as_role("viewer", tenant)

    def counted() -> float:
        text = reader.get("/metrics").text
        line = 'jobledger_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="200"}'
        found = re.search(re.escape(line) + r" (\S+)", text)
        return float(found[1]) if found else 0.0

    before = counted()
    for _ in range(3):
        assert reader.get(f"/v1/jobs/{job_id}").status_code == 200
    assert counted() == before + 3


def test_the_fast_path_itself_answers_a_plain_read_and_leaves_the_rest(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparisons above would pass if the fast path never answered (the app would):
    here its own answers are watched."""
    answers: list[bool] = []
    own = JobReadFastPath._answer

    async def watched(self: JobReadFastPath, scope: Scope) -> Response | None:
        found = await own(self, scope)
        answers.append(found is not None)
        return found

    monkeypatch.setattr(JobReadFastPath, "_answer", watched)
    tenant = f"t{uuid4().hex[:8]}"
    creator = api.as_role("analyst", tenant, "creator@x")
    job_id = creator.post("/v1/jobs", json=JOB).json()["id"]
    api.wait_for_read_models()
    answers.clear()
    assert creator.get(f"/v1/jobs/{job_id}").status_code == 200
    assert answers == [True]
    answers.clear()
    assert creator.get(f"/v1/jobs/{job_id}", params={"wait": "false"}).status_code == 200
    assert creator.get(f"/v1/jobs/{uuid4()}").status_code == 404
    assert answers == [False, False]
