"""Batches over a real server: several submits answered item by item, several claims
each under its own lease, bounds refused whole with nothing recorded, repeats."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from jobledger.adapters.client import AsyncJobledgerClient, AsyncWorker, JobledgerClient, Worker
from jobledger.domain import bounds
from tests.api.conftest import Api, run_api, serve
from tests.conftest import postgres_schema


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """SQLite for breadth; one case below runs on PostgreSQL."""
    yield from run_api(tmp_path_factory.mktemp("batches"))


def tenant() -> str:
    return f"t-{uuid4().hex[:10]}"


def submit_batch(client: httpx.Client, jobs: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/v1/jobs/batch", json={"jobs": jobs})


def recorded(api: Api) -> int:
    return api.ledger.recorder.max_notification_id() or 0


def test_each_item_is_answered_on_its_own_and_a_repeat_records_nothing(api: Api) -> None:
    analyst = api.as_role("analyst", tenant())
    first = [
        {"type": "graph_analysis", "idempotencyKey": "a"},
        {"type": "entity_extraction", "priority": 9, "idempotencyKey": "b"},
        {"type": "graph_analysis"},
    ]
    answer = submit_batch(analyst, first)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["index"] for i in items] == [0, 1, 2]
    assert [i["status"] for i in items] == [202, 202, 202]
    assert answer.json()["submitted"] == 3
    assert len({i["jobId"] for i in items}) == 3
    for item in items:
        assert analyst.get(item["location"]).json()["status"] == "queued"
    before = recorded(api)
    # Key "a" again with its body, key "b" reused with another body, a new one, and
    # "a" twice in one batch: answered per item, only the new job recorded.
    again = submit_batch(
        analyst,
        [
            {"type": "graph_analysis", "idempotencyKey": "a"},
            {"type": "graph_analysis", "idempotencyKey": "b"},
            {"type": "graph_analysis", "idempotencyKey": "c"},
            {"type": "graph_analysis", "idempotencyKey": "c"},
        ],
    ).json()
    a, b, c, c2 = again["items"]
    assert (a["status"], a["replayed"], a["jobId"]) == (202, True, items[0]["jobId"])
    assert (b["status"], b["problem"]["code"]) == (409, "idempotency_conflict")
    assert (c["status"], c["replayed"]) == (202, False)
    assert (c2["jobId"], c2["replayed"]) == (c["jobId"], True)
    assert again["submitted"] == 1
    assert recorded(api) > before
    assert len(api.ledger.job_events(UUID(c["jobId"]))) == 1  # one submit, not two
    api.wait_for_read_models()
    assert len(analyst.get("/v1/jobs").json()["items"]) == 4


@pytest.mark.parametrize(
    ("jobs", "status", "field"),
    [
        ([{"type": "graph_analysis"}] * (bounds.MAX_SUBMIT_BATCH + 1), 422, "body.jobs"),
        ([], 422, "body.jobs"),
        (
            [{"type": "graph_analysis"}, {"type": "graph_analysis", "priority": 10}],
            422,
            "body.jobs.1.priority",
        ),
        ([{"type": "graph_analysis"}, {"type": "nope"}], 422, "body.jobs.1.type"),
        ([{"type": "graph_analysis", "idempotencyKey": "a b"}], 422, "body.jobs.0.idempotencyKey"),
    ],
)
def test_a_batch_outside_its_bounds_is_refused_whole_and_records_nothing(
    api: Api, jobs: list[dict[str, Any]], status: int, field: str
) -> None:
    analyst = api.as_role("analyst", tenant())
    before = recorded(api)
    answer = submit_batch(analyst, jobs)
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert recorded(api) == before


def test_a_body_past_the_size_limit_is_413_and_records_nothing(api: Api) -> None:
    analyst = api.as_role("analyst", tenant())
    before = recorded(api)
    big = {"type": "graph_analysis", "config": {"x": "y" * 600_000}}
    answer = submit_batch(analyst, [big, big])
    assert answer.status_code == 413, answer.text
    assert recorded(api) == before


def claim_batch(worker: httpx.Client, **body: Any) -> httpx.Response:
    return worker.post("/v1/claims/batch", json={"agent": "agent-1", **body})


def test_a_batch_claim_takes_up_to_max_each_with_its_lease_and_a_repeat_gets_the_same(
    api: Api,
) -> None:
    who = tenant()
    analyst = api.as_role("analyst", who)
    ids = [
        i["jobId"] for i in submit_batch(analyst, [{"type": "graph_analysis"}] * 5).json()["items"]
    ]
    worker = api.as_role("worker", who, f"w@{who}")
    first = claim_batch(worker, max=3, commandId="c1")
    assert first.status_code == 200, first.text
    claims = first.json()["claims"]
    assert len(claims) == 3
    assert {c["jobId"] for c in claims} <= set(ids)
    assert len({c["leaseId"] for c in claims}) == 3
    assert {c["status"] for c in claims} == {"claimed"}
    before = recorded(api)
    repeat = claim_batch(worker, max=3, commandId="c1")
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json()["claims"] == claims
    assert recorded(api) == before
    rest = claim_batch(worker, max=10).json()["claims"]
    assert len(rest) == 2
    assert {c["jobId"] for c in rest} | {c["jobId"] for c in claims} == set(ids)
    # each lease fences its own job
    lease = claims[0]
    started = worker.post(
        f"/v1/jobs/{lease['jobId']}/start", json={"leaseId": lease["leaseId"], "commandId": "s"}
    )
    assert started.status_code == 200, started.text
    wrong = worker.post(
        f"/v1/jobs/{claims[1]['jobId']}/start", json={"leaseId": lease["leaseId"], "commandId": "s"}
    )
    assert wrong.status_code == 409
    assert claim_batch(worker, max=3).json() == {"claims": []}


@pytest.mark.parametrize("size", [0, bounds.MAX_CLAIM_BATCH + 1, "2"])
def test_a_batch_claim_past_its_bound_is_422_and_claims_nothing(api: Api, size: object) -> None:
    who = tenant()
    submit_batch(api.as_role("analyst", who), [{"type": "graph_analysis"}])
    worker = api.as_role("worker", who)
    before = recorded(api)
    answer = claim_batch(worker, max=size)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "body.max"
    assert recorded(api) == before


def test_eight_threads_batch_claiming_get_each_of_200_jobs_exactly_once(api: Api) -> None:
    who = tenant()
    analyst = api.as_role("analyst", who)
    for _ in range(2):
        assert submit_batch(analyst, [{"type": "graph_analysis"}] * 100).status_code == 200
    got: list[list[str]] = [[] for _ in range(8)]

    def drain(n: int) -> None:
        with httpx.Client(
            base_url=api.url,
            headers={"Authorization": f"Bearer {api.token('worker', who, f'w{n}@{who}')}"},
            timeout=30,
        ) as worker:
            while True:
                claims = claim_batch(worker, max=7, agent=f"w{n}").json()["claims"]
                if not claims:
                    return
                got[n].extend(c["jobId"] for c in claims)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [job for mine in got for job in mine]
    assert len(every) == 200
    assert len(set(every)) == 200
    assert sum(1 for mine in got if mine) > 1


def test_batches_on_postgresql() -> None:
    with postgres_schema() as settings:
        for api in serve(settings):
            who = tenant()
            analyst = api.as_role("analyst", who)
            items = submit_batch(
                analyst, [{"type": "graph_analysis", "idempotencyKey": f"k{i}"} for i in range(4)]
            ).json()["items"]
            assert [i["status"] for i in items] == [202] * 4
            again = submit_batch(analyst, [{"type": "graph_analysis", "idempotencyKey": "k0"}])
            assert again.json()["items"][0]["jobId"] == items[0]["jobId"]
            api.wait_for_read_models()
            worker = api.as_role("worker", who)
            claims = claim_batch(worker, max=10, commandId="x").json()["claims"]
            assert sorted(c["jobId"] for c in claims) == sorted(i["jobId"] for i in items)
            assert claim_batch(worker, max=10, commandId="x").json()["claims"] == claims


def test_the_clients_submit_and_claim_several_at_once(api: Api) -> None:
    who = tenant()
    analyst = JobledgerClient(api.url, api.token("analyst", who))
    answer = analyst.submit_many([{"type": "graph_analysis", "priority": 9}] * 3)
    assert [i["status"] for i in answer["items"]] == [202] * 3
    worker = Worker(JobledgerClient(api.url, api.token("worker", who)), agent="gpu-1")
    jobs = worker.claim_many(2)
    assert len(jobs) == 2
    for job in jobs:
        with job:
            job.start()
            job.complete({"nodes": 1, "edges": 0})

    async def rest() -> list[str]:
        async with AsyncJobledgerClient(api.url, api.token("worker", who)) as client:
            claimed = await AsyncWorker(client, agent="gpu-2").claim_many(5)
            for job in claimed:
                async with job:
                    await job.start()
                    await job.complete({"nodes": 1, "edges": 0})
            return [job.task.job_id for job in claimed]

    assert len(asyncio.run(rest())) == 1
    assert worker.claim_many(5) == []
    analyst.close()
    worker.client.close()


def test_a_batch_item_with_a_subject_and_workers_is_a_job_of_tasks(api: Api) -> None:
    """A batch item is a submit body like any other, tasks included."""
    analyst = api.as_role("analyst", tenant())
    item = {"type": "threat_modelling", "subject": "sha256:ab", "workers": ["av-1", "av-2"]}
    answer = submit_batch(analyst, [item, {"type": "graph_analysis"}])
    assert answer.status_code == 200, answer.text
    api.wait_for_read_models()
    tasked, plain = (analyst.get(i["location"]).json() for i in answer.json()["items"])
    assert tasked["subject"] == "sha256:ab"
    assert [(t["worker"], t["state"]) for t in tasked["tasks"]] == [
        ("av-1", "enqueued"),
        ("av-2", "enqueued"),
    ]
    assert (plain["subject"], plain["tasks"]) == (None, None)
