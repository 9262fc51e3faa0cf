"""The worker protocol over a real server, on both stores: claims, leases, retries,
cooperative cancellation, and bad input refused with nothing recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from jobledger.adapters.settings import Settings
from jobledger.domain import events as ev
from jobledger.domain.values import Actor
from tests.api.conftest import Api, serve
from tests.conftest import MovableClock, postgres_schema


def new_tenant() -> str:
    return f"t-{uuid4().hex[:10]}"


class Crew:
    """An analyst and workers of one tenant, each with their own client."""

    def __init__(self, api: Api, tenant: str | None = None) -> None:
        self.api = api
        self.tenant = tenant or new_tenant()
        self.analyst = api.as_role("analyst", self.tenant, f"analyst@{self.tenant}")

    def worker(self, name: str = "w1") -> httpx.Client:
        return self.api.as_role("worker", self.tenant, f"{name}@{self.tenant}")

    def submit(self, job_type: str = "graph_analysis", **body: Any) -> str:
        answer = self.analyst.post("/v1/jobs", json={"type": job_type, **body})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def envelope(self, job_id: str) -> dict[str, Any]:
        answer = self.analyst.get(f"/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def version(self, job_id: str) -> int:
        return self.api.ledger.get(UUID(job_id)).version


def claim(worker: httpx.Client, **body: Any) -> httpx.Response:
    return worker.post("/v1/claims", json={"agent": "agent-1", **body})


def claimed(worker: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = claim(worker, **body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def command(
    worker: httpx.Client, job_id: str, action: str, lease: str, **body: Any
) -> httpx.Response:
    payload = {"leaseId": lease, "commandId": body.pop("command_id", uuid4().hex), **body}
    return worker.post(f"/v1/jobs/{job_id}/{action}", json=payload)


def ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


# -- claiming --------------------------------------------------------------------------


def test_a_claim_takes_the_highest_priority_then_the_oldest_job_with_its_inputs(
    api: Api,
) -> None:
    crew = Crew(api)
    inputs = [{"name": "a.pdf", "mediaType": "application/pdf", "sizeBytes": 10}]
    low = crew.submit(priority=1)
    old_high = crew.submit(priority=8, inputs=inputs, config={"depth": 2})
    new_high = crew.submit(priority=8)
    api.wait_for_read_models()
    worker = crew.worker()
    first = claimed(worker, leaseSeconds=120)
    assert first["jobId"] == old_high
    assert first["inputs"] == [{**inputs[0], "uri": None}]
    assert first["config"] == {"depth": 2}
    assert first["status"] == "claimed"
    assert first["leaseId"]
    assert first["leaseExpiresAt"] is not None
    assert [claimed(worker)["jobId"] for _ in range(2)] == [new_high, low]
    assert claim(worker).status_code == 204


def test_types_and_pools_decide_which_agent_may_claim_a_job(api: Api) -> None:
    crew = Crew(api)
    gpu_job = crew.submit("entity_extraction", pool="gpu")
    any_job = crew.submit("graph_analysis")
    api.wait_for_read_models()
    worker = crew.worker()
    assert claim(worker, types=["anomaly_detection"]).status_code == 204
    assert claim(worker, types=["entity_extraction"]).status_code == 204  # gpu only
    assert claimed(worker, types=["entity_extraction"], pool="gpu")["jobId"] == gpu_job
    assert claimed(worker, pool="gpu")["jobId"] == any_job  # a pool agent takes unpooled jobs


def test_a_waiting_claim_is_answered_when_a_job_is_queued(api: Api) -> None:
    crew = Crew(api)
    got: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: got.append(claim(crew.worker(), waitSeconds=10)))
    waiter.start()
    job = crew.submit()
    waiter.join(timeout=15)
    assert got, "the waiting claim was not answered"
    assert got[0].status_code == 200, got[0].text
    assert got[0].json()["jobId"] == job


def test_sixteen_workers_claiming_from_500_jobs_get_each_exactly_once(api: Api) -> None:
    tenant = new_tenant()
    analyst = Actor(f"analyst@{tenant}", tenant)
    jobs = {str(api.ledger.submit(analyst, "graph_analysis").job_id) for _ in range(500)}
    api.wait_for_read_models()
    taken: list[list[str]] = [[] for _ in range(16)]
    errors: list[str] = []

    def work(n: int) -> None:
        worker = api.as_role("worker", tenant, f"w{n}@{tenant}")
        while True:
            answer = claim(worker, agent=f"w{n}")
            if answer.status_code == 204:
                return
            if answer.status_code != 200:
                errors.append(answer.text)
                return
            taken[n].append(answer.json()["jobId"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    every = [job for mine in taken for job in mine]
    assert sorted(every) == sorted(jobs)  # none lost, none twice
    assert sum(1 for mine in taken if mine) > 1  # they really raced
    for n, mine in enumerate(taken):
        for job_id in mine:
            events = api.ledger.job_events(UUID(job_id))
            claims = [e for e in events if isinstance(e, ev.JobClaimed)]
            assert [c.agent for c in claims] == [f"w{n}"]


# -- commands under a lease ------------------------------------------------------------


def test_every_worker_command_renews_the_lease_and_the_job_completes(api: Api) -> None:
    crew = Crew(api)
    job = crew.submit("entity_extraction")
    api.wait_for_read_models()
    worker = crew.worker()
    grant = claimed(worker, leaseSeconds=600)
    lease, deadline = grant["leaseId"], grant["leaseExpiresAt"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("start", {}),
        ("progress", {"percent": 30, "message": "reading"}),
        ("findings", {"entities": 4, "anomalies": 1}),
        ("usage", {"model": "gpt-4o", "inputTokens": 1000, "outputTokens": 50}),
        ("heartbeat", {}),
        ("validation", {}),
        ("upload", {}),
    ]
    for action, body in steps:
        answer = ok(command(worker, job, action, lease, **body))
        assert answer["leaseExpiresAt"] > deadline, action  # moved on by each command
        assert answer["cancellationRequested"] is False
        deadline = answer["leaseExpiresAt"]
    done = ok(command(worker, job, "complete", lease, result={"entities": 4, "findings": []}))
    assert done["status"] == "completed"
    assert done["leaseExpiresAt"] is None
    api.wait_for_read_models()
    envelope = crew.envelope(job)
    assert envelope["status"] == "completed"
    assert envelope["findings"]["entities"] == 4
    assert envelope["tokens"]["input"] == 1000


def test_a_retried_command_gets_the_first_answer_and_records_nothing_twice(api: Api) -> None:
    crew = Crew(api)
    job = crew.submit()
    api.wait_for_read_models()
    worker = crew.worker()
    lease = claimed(worker)["leaseId"]
    ok(command(worker, job, "start", lease))
    first = command(worker, job, "progress", lease, percent=40, command_id="p-1")
    version = crew.version(job)
    again = command(worker, job, "progress", lease, percent=40, command_id="p-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert crew.version(job) == version
    reused = command(worker, job, "progress", lease, percent=60, command_id="p-1")
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_conflict"
    assert crew.version(job) == version


def test_a_retryable_failure_waits_out_its_back_off_and_keeps_each_attempts_error(
    api: Api,
) -> None:
    crew = Crew(api)
    job = crew.submit(maxAttempts=2)
    api.wait_for_read_models()
    worker = crew.worker()
    lease = claimed(worker)["leaseId"]
    ok(command(worker, job, "start", lease))
    ok(command(worker, job, "usage", lease, model="gpt-4o", inputTokens=1_000_000))
    failed = ok(command(worker, job, "fail", lease, code="rate_limited", retryable=True))
    assert failed["status"] == "queued"
    assert failed["attempt"] == 2
    assert failed["notBefore"] is not None
    api.wait_for_read_models()
    assert crew.envelope(job)["notBefore"] == failed["notBefore"]
    assert claim(worker).status_code == 204  # the back-off (1-2 s by default) is not over
    second = claimed(worker, waitSeconds=10)  # a waiting claim gets it once it is due
    assert second["jobId"] == job
    assert second["attempt"] == 2
    assert second["leaseId"] != lease
    ok(command(worker, second["jobId"], "start", second["leaseId"]))
    final = ok(command(worker, job, "fail", second["leaseId"], code="rate_limited", retryable=True))
    assert final["status"] == "failed"  # the last attempt: terminal
    api.wait_for_read_models()
    history = api.as_role("viewer", crew.tenant).get(f"/v1/jobs/{job}/history").json()["items"]
    failures = [
        (h["attempt"], h["reason"], h["toStatus"]) for h in history if h["trigger"] == "fail"
    ]
    assert failures == [(1, "rate_limited", "queued"), (2, "rate_limited", "failed")]
    costs = api.as_role("viewer", crew.tenant).get("/v1/costs", params={"groupBy": "tenant"}).json()
    assert costs["items"][0]["unsuccessfulCost"]["amount"] == costs["items"][0]["cost"]["amount"]


def test_a_cancel_reaches_the_worker_in_its_next_answer_and_its_ack_ends_the_job(
    api: Api,
) -> None:
    crew = Crew(api)
    job = crew.submit()
    api.wait_for_read_models()
    worker = crew.worker()
    lease = claimed(worker)["leaseId"]
    ok(command(worker, job, "start", lease))
    asked = crew.analyst.post(f"/v1/jobs/{job}/cancel", json={"reason": "wrong corpus"})
    assert asked.status_code == 202
    answer = ok(command(worker, job, "progress", lease, percent=50))
    assert answer["cancellationRequested"] is True
    assert answer["status"] == "running"
    acked = ok(command(worker, job, "cancellation-ack", lease))
    assert acked["status"] == "cancelled"


# -- bad input -------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
ACTIONS: dict[str, dict[str, Any]] = {
    "start": {},
    "progress": {"percent": 10},
    "findings": {"entities": 1},
    "usage": {"model": "gpt-4o", "inputTokens": 5},
    "heartbeat": {},
    "validation": {},
    "upload": {},
    "complete": {"result": {}},
    "fail": {"code": "boom"},
    "release": {},
    "cancellation-ack": {},
}


@pytest.fixture
def leased(api: Api) -> tuple[Crew, str, str]:
    """A running job of a fresh tenant and its lease."""
    crew = Crew(api)
    job = crew.submit()
    api.wait_for_read_models()
    lease = claimed(crew.worker())["leaseId"]
    ok(command(crew.worker(), job, "start", lease))
    return crew, job, lease


@pytest.mark.parametrize("action", list(ACTIONS))
def test_bad_calls_to_every_worker_endpoint_are_refused_and_record_nothing(
    api: Api, leased: tuple[Crew, str, str], action: str
) -> None:
    crew, job, lease = leased
    body = ACTIONS[action]
    worker = crew.worker()
    before = crew.version(job)
    url = f"/v1/jobs/{job}/{action}"
    refusals = {
        "no lease id": (worker.post(url, json={"commandId": "c", **body}), 422, "leaseId"),
        "no command id": (worker.post(url, json={"leaseId": lease, **body}), 422, "commandId"),
        "a stale lease": (command(worker, job, action, "stale-lease", **body), 409, "lease"),
        "an analyst": (command(crew.analyst, job, action, lease, **body), 403, "worker"),
        "another tenant": (command(Crew(api).worker(), job, action, lease, **body), 404, job),
        "not JSON": (worker.post(url, content=b"{nope", headers=JSON), 400, "JSON"),
    }
    for case, (answer, status, named) in refusals.items():
        assert answer.status_code == status, (case, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", case
        assert named in answer.text, case
    stale = refusals["a stale lease"][0].json()
    assert (stale["code"], stale["leaseState"], stale["currentState"]) == (
        "lease_mismatch",
        "held",
        "running",
    )
    assert crew.version(job) == before


@pytest.mark.parametrize(
    ("action", "body", "named"),
    [
        ("usage", {"model": "gpt-4o", "inputTokens": -1}, "inputTokens"),
        ("usage", {"model": "", "inputTokens": 1}, "model"),
        ("findings", {"entities": -3}, "entities"),
        ("progress", {"percent": 101}, "percent"),
        ("progress", {"percent": 5}, "never decreases"),  # it is at 20
        ("complete", {"result": {"nodes": "many"}}, "nodes"),
        ("complete", {"result": []}, "result"),
        ("fail", {"code": "has spaces"}, "code"),
        ("heartbeat", {"leaseSeconds": -5}, "leaseSeconds"),
        ("release", {"reason": 7}, "reason"),
    ],
)
def test_a_payload_that_breaks_a_rule_is_422_naming_the_field(
    api: Api, leased: tuple[Crew, str, str], action: str, body: dict[str, Any], named: str
) -> None:
    crew, job, lease = leased
    worker = crew.worker()
    ok(command(worker, job, "progress", lease, percent=20))
    before = crew.version(job)
    answer = command(worker, job, action, lease, **body)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["detail"]
    assert crew.version(job) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"agent": ""},
        {"agent": "w", "leaseSeconds": 0},
        {"agent": "w", "types": ["poetry"]},
        {"agent": "w", "waitSeconds": 61},
        {"agent": "w", "surprise": True},
    ],
)
def test_a_bad_claim_is_422_and_claims_nothing(api: Api, body: dict[str, Any]) -> None:
    crew = Crew(api)
    job = crew.submit()
    api.wait_for_read_models()
    answer = crew.worker().post("/v1/claims", json=body)
    assert answer.status_code == 422, answer.text
    assert crew.version(job) == 1


# -- leases running out, with a clock the test moves -------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def clocked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, MovableClock]]:
    clock = MovableClock()
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("clocked")
        yield from (
            (api, clock) for api in serve(Settings(db=f"sqlite:///{folder}/l.db"), True, clock)
        )
        return
    with postgres_schema() as settings:
        yield from ((api, clock) for api in serve(settings, True, clock))


def sweep(api: Api) -> int:
    api.wait_for_read_models()
    assert api.services.sweeper is not None
    return api.services.sweeper.sweep()


def test_an_expired_lease_requeues_counts_attempts_fails_at_the_limit_and_fences_late_work(
    clocked: tuple[Api, MovableClock],
) -> None:
    api, clock = clocked
    crew = Crew(api)
    job = crew.submit(maxAttempts=2)
    api.wait_for_read_models()
    slow, fast = crew.worker("slow"), crew.worker("fast")
    first = claimed(slow, leaseSeconds=30)
    ok(command(slow, job, "start", first["leaseId"]))
    clock.advance(seconds=20)
    ok(command(slow, job, "progress", first["leaseId"], percent=10))  # renews to +30 s
    clock.advance(seconds=20)
    assert sweep(api) == 0  # 40 s after the claim, but 20 s after the renewal
    clock.advance(seconds=11)
    assert sweep(api) == 1
    api.wait_for_read_models()
    requeued = crew.envelope(job)
    assert (requeued["status"], requeued["attempt"]) == ("queued", 2)

    second = claimed(fast, leaseSeconds=30)
    assert (second["jobId"], second["attempt"]) == (job, 2)
    before = crew.version(job)
    late = command(slow, job, "complete", first["leaseId"], result={"nodes": 1, "edges": 0})
    assert late.status_code == 409
    assert late.json()["leaseState"] == "held"
    assert crew.version(job) == before  # the late worker recorded nothing

    ok(command(fast, job, "start", second["leaseId"]))
    clock.advance(seconds=31)
    assert sweep(api) == 1
    api.wait_for_read_models()
    failed = crew.envelope(job)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "lease_expired"
    assert failed["attempt"] == 2


def test_a_worker_that_never_acknowledges_a_cancel_loses_the_job_to_cancellation(
    clocked: tuple[Api, MovableClock],
) -> None:
    api, clock = clocked
    crew = Crew(api)
    job = crew.submit(maxAttempts=3)
    api.wait_for_read_models()
    worker = crew.worker()
    lease = claimed(worker, leaseSeconds=30)["leaseId"]
    ok(command(worker, job, "start", lease))
    assert crew.analyst.post(f"/v1/jobs/{job}/cancel").status_code == 202
    clock.advance(seconds=31)
    assert sweep(api) == 1
    api.wait_for_read_models()
    assert crew.envelope(job)["status"] == "cancelled"  # not requeued, attempts left or not


def test_a_repeated_claim_gets_the_first_claim_back_even_once_the_queue_is_empty(
    api: Api,
) -> None:
    crew = Crew(api)
    job = crew.submit()
    api.wait_for_read_models()
    worker = crew.worker()
    first = claimed(worker, commandId="claim-1")
    again = claim(worker, commandId="claim-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["jobId"], again.json()["leaseId"]) == (job, first["leaseId"])
    assert claim(worker, commandId="claim-2").status_code == 204
    claims = [e for e in api.ledger.job_events(UUID(job)) if isinstance(e, ev.JobClaimed)]
    assert len(claims) == 1
