"""The Python client against a real server, and through a real proxy that misbehaves
the way proxies do: cutting long polls (504) and losing answers (502)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobledger.adapters.client import (
    Agent,
    AsyncJobledgerClient,
    AsyncWorker,
    JobledgerClient,
    LeaseLost,
    Worker,
)
from jobledger.adapters.http.server import running
from jobledger.domain import events as ev
from tests.api.conftest import Api

STEP = {"workId": 1, "actionName": "plan", "success": True, "executedAt": "2026-11-01T09:00:00Z"}
PASSED_ON = ("content-type", "etag", "location", "idempotent-replayed")


@dataclass
class Proxy:
    """Forwards to the API; can answer long polls with 504 and lose an answer (502)
    after the API has acted on the request."""

    upstream: str
    cut_long_polls: bool = False
    lose_first: set[str] = field(default_factory=set)  # path endings: first answer lost
    seen: list[str] = field(default_factory=list)
    correlation_ids: dict[str, str | None] = field(default_factory=dict)  # request: header

    async def handle(self, request: Request) -> Response:
        self.seen.append(f"{request.method} {request.url.path}?{request.url.query}")
        self.correlation_ids[self.seen[-1]] = request.headers.get("x-correlation-id")
        if self.cut_long_polls and request.query_params.get("wait") == "true":
            await asyncio.sleep(0.05)
            return Response("upstream timed out", status_code=504)
        async with httpx.AsyncClient(base_url=self.upstream, timeout=60) as client:
            answer = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k != "host"},
            )
        ending = next((e for e in self.lose_first if request.url.path.endswith(e)), None)
        if ending is not None:
            self.lose_first.discard(ending)
            return Response("connection to upstream lost", status_code=502)
        headers = {k: v for k, v in answer.headers.items() if k in PASSED_ON}
        return Response(answer.content, answer.status_code, headers=headers)

    def app(self) -> Starlette:
        methods = ["GET", "POST"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])


@pytest.fixture
def proxy(api: Api) -> Iterator[tuple[Proxy, str]]:
    found = Proxy(api.url)
    with running(found.app()) as url:
        yield found, url


def tokens(api: Api) -> tuple[str, str, str]:
    tenant = f"t-{uuid4().hex[:10]}"
    return tenant, api.token("analyst", tenant), api.token("worker", tenant)


def run_one(worker: Worker, *, crash: bool = False) -> str:
    job = worker.claim(wait_seconds=10)
    assert job is not None, "nothing was claimed"
    with job:
        job.start()
        job.progress(50, "halfway")
        job.usage("gpt-4o", input_tokens=100)
        job.steps([STEP, {**STEP, "workId": 2, "model": "gpt-4o", "inputTokens": 10}])
        if crash:
            raise RuntimeError("the model server went away")
        job.complete({"nodes": 2, "edges": 1})
    return job.task.job_id


def test_submit_and_wait_by_long_poll_while_a_worker_runs_the_job(api: Api) -> None:
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(api.url, analyst) as client, JobledgerClient(api.url, worker_token) as w:
        job = client.submit("graph_analysis", priority=7, metadata={"case": "A-1"})
        assert job["status"] == "queued"
        ran = threading.Thread(target=run_one, args=(Worker(w, "w1"),))
        ran.start()
        done = client.wait(job["id"], timeout=30)
        ran.join()
        report = client.report(job["id"], wait_seconds=10)
    assert done["status"] == "completed"
    assert (done["result"]["nodes"], done["result"]["edges"]) == (2, 1)
    assert report["status"] == "completed"
    assert [s["workId"] for s in report["agentAuditLog"]] == [1, 2]


def test_wait_falls_back_to_polling_when_a_proxy_cuts_long_polls(
    api: Api, proxy: tuple[Proxy, str]
) -> None:
    cutter, url = proxy
    cutter.cut_long_polls = True
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(url, analyst) as client, JobledgerClient(api.url, worker_token) as w:
        job = client.submit("graph_analysis")
        api.wait_for_read_models()
        run_one(Worker(w, "w1"))
        done = client.wait(job["id"], timeout=30)
    assert done["status"] == "completed"
    polls = [s for s in cutter.seen if s.startswith(f"GET /v1/jobs/{job['id']}")]
    assert "wait=true" in polls[0]  # it tried a long poll once,
    assert all("wait=true" not in p for p in polls[1:])  # then polled


def test_a_lost_answer_is_retried_with_the_same_command_id_and_recorded_once(
    api: Api, proxy: tuple[Proxy, str]
) -> None:
    loser, url = proxy
    loser.lose_first = {"/v1/jobs", "/v1/claims", "/progress", "/steps", "/complete"}
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(url, analyst) as client:
        job = client.submit("graph_analysis", idempotency_key="case-7")
    api.wait_for_read_models()
    with JobledgerClient(url, worker_token) as w:
        job_id = run_one(Worker(w, "w1"))
    assert job_id == job["id"]
    events = api.ledger.job_events(UUID(job_id))
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("JobSubmitted") == 1
    assert kinds.count("JobClaimed") == 1
    assert kinds.count("ProgressReported") == 1
    assert kinds.count("StepsAppended") == 1
    assert kinds.count("JobCompleted") == 1
    assert loser.lose_first == set()  # every loss happened, and was retried


def test_background_heartbeats_keep_a_short_lease_alive(api: Api) -> None:
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(api.url, analyst) as client, JobledgerClient(api.url, worker_token) as w:
        submitted = client.submit("graph_analysis")
        api.wait_for_read_models()
        job = Worker(w, Agent("w1", lease_seconds=1.2)).claim()
        assert job is not None
        with job:
            job.start()
            for _ in range(25):  # 2.5 s of work with nothing else sent
                threading.Event().wait(0.1)
                api.wait_for_read_models()
                assert api.services.sweeper is not None
                api.services.sweeper.sweep()
            job.complete({"nodes": 0, "edges": 0})
        api.wait_for_read_models()
        assert client.get(submitted["id"])["status"] == "completed"
    events = api.ledger.job_events(UUID(submitted["id"]))
    assert sum(isinstance(e, ev.HeartbeatRecorded) for e in events) >= 3
    assert not any(isinstance(e, ev.LeaseExpired) for e in events)


def test_an_exception_in_the_block_fails_the_attempt_as_retryable(api: Api) -> None:
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(api.url, analyst) as client, JobledgerClient(api.url, worker_token) as w:
        submitted = client.submit("graph_analysis", max_attempts=2)
        api.wait_for_read_models()
        with pytest.raises(RuntimeError, match="went away"):
            run_one(Worker(w, "w1"), crash=True)
        api.wait_for_read_models()
        job = client.get(submitted["id"])
    assert (job["status"], job["attempt"]) == ("queued", 2)
    assert job["notBefore"] is not None


def test_a_worker_whose_lease_is_gone_is_told_so(api: Api) -> None:
    _, analyst, worker_token = tokens(api)
    with JobledgerClient(api.url, analyst) as client, JobledgerClient(api.url, worker_token) as w:
        submitted = client.submit("graph_analysis")
        api.wait_for_read_models()
        job = Worker(w, "w1").claim()
        assert job is not None
        job.start()
        client.cancel(submitted["id"])
        assert job.progress(10)["cancellationRequested"] is True
        job.acknowledge_cancellation()
        with pytest.raises(LeaseLost):
            job.progress(20)
    assert job.task.lease_lost


def test_the_async_client_and_worker_run_a_job(api: Api) -> None:
    _, analyst, worker_token = tokens(api)

    async def scenario() -> dict[str, object]:
        async with (
            AsyncJobledgerClient(api.url, analyst) as client,
            AsyncJobledgerClient(api.url, worker_token) as w,
        ):
            submitted = await client.submit("graph_analysis")
            job = await AsyncWorker(w, "w-async").claim(wait_seconds=10)
            assert job is not None
            async with job:
                await job.start()
                await job.progress(60)
                await job.complete({"nodes": 1, "edges": 0})
            return await client.wait(str(submitted["id"]), timeout=30)

    done = asyncio.run(scenario())
    assert done["status"] == "completed"


def recorded_correlation_ids(api: Api, tenant: str, job_id: str) -> dict[str, str]:
    """Each event type of the job and its correlation id, as an auditor reads them."""
    auditor = api.as_role("auditor", tenant)
    items = auditor.get(f"/v1/jobs/{job_id}/events").json()["items"]
    return {item["type"]: item["correlationId"] for item in items}


def worker_commands(proxy: Proxy) -> dict[str, str | None]:
    return {
        request: header
        for request, header in proxy.correlation_ids.items()
        if request.startswith("POST /v1/jobs/")
    }


def test_the_worker_sends_the_workflow_of_the_job_it_claimed_with_every_command(
    api: Api, proxy: tuple[Proxy, str]
) -> None:
    watcher, url = proxy
    tenant, analyst, worker_token = tokens(api)
    with JobledgerClient(api.url, analyst) as client:
        submitted = client.submit("graph_analysis", correlation_id="case-12")
    api.wait_for_read_models()
    with JobledgerClient(url, worker_token) as w:
        job_id = run_one(Worker(w, "w1"))
    sent = worker_commands(watcher)
    assert len(sent) == 5  # start, progress, usage, steps, complete
    assert set(sent.values()) == {"case-12"}
    recorded = recorded_correlation_ids(api, tenant, submitted["id"])
    assert job_id == submitted["id"]
    assert set(recorded) >= {"JobSubmitted", "JobClaimed", "JobStarted", "JobCompleted"}
    assert set(recorded.values()) == {"case-12"}


def test_the_async_worker_sends_the_jobs_workflow_and_a_cancel_its_own(
    api: Api, proxy: tuple[Proxy, str]
) -> None:
    watcher, url = proxy
    tenant, analyst, worker_token = tokens(api)

    async def scenario() -> str:
        async with (
            AsyncJobledgerClient(url, analyst) as client,
            AsyncJobledgerClient(url, worker_token) as w,
        ):
            submitted = await client.submit("graph_analysis", correlation_id="case-13")
            job = await AsyncWorker(w, "w-async").claim(wait_seconds=10)
            assert job is not None
            async with job:
                await job.start()
                await client.cancel(submitted["id"], "wrong corpus", correlation_id="undo-1")
                assert (await job.heartbeat())["cancellationRequested"] is True
                await job.acknowledge_cancellation()
            return str(submitted["id"])

    job_id = asyncio.run(scenario())
    sent = worker_commands(watcher)
    assert sent[f"POST /v1/jobs/{job_id}/cancel?"] == "undo-1"
    del sent[f"POST /v1/jobs/{job_id}/cancel?"]
    assert set(sent.values()) == {"case-13"}
    assert recorded_correlation_ids(api, tenant, job_id) == {
        "JobSubmitted": "case-13",
        "JobClaimed": "case-13",
        "JobStarted": "case-13",
        "CancellationRequested": "undo-1",
        "HeartbeatRecorded": "case-13",
        "CancellationAcknowledged": "case-13",
    }
