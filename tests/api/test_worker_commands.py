"""Worker commands of several jobs in one request, over a real server on both stores:
each item answered on its own, commands on one job in order, repeats answered once,
a bad body refused whole with nothing recorded, and other tenants' jobs not found."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from jobledger.adapters.cli.samples import sample_result
from jobledger.adapters.client import AsyncJobledgerClient, AsyncWorker, JobledgerClient, Worker
from jobledger.adapters.client.errors import LeaseLost
from jobledger.domain import bounds
from jobledger.domain.results import JobType
from tests.api.conftest import Api
from tests.integration.test_group_commit import group_of

RESULT = sample_result(JobType.GRAPH_ANALYSIS, random.Random(1))


def tenant() -> str:
    return f"t-{uuid4().hex[:10]}"


def recorded(api: Api) -> int:
    return api.ledger.recorder.max_notification_id() or 0


def claimed(api: Api, team: str, n: int) -> tuple[httpx.Client, list[dict[str, Any]]]:
    """``n`` jobs submitted and claimed in tenant ``team``, and its worker."""
    analyst = api.as_role("analyst", team)
    answer = analyst.post("/v1/jobs/batch", json={"jobs": [{"type": "graph_analysis"}] * n})
    assert answer.status_code == 200, answer.text
    api.wait_for_read_models()  # claims find queued jobs in the read models
    worker = api.as_role("worker", team)
    claims = worker.post("/v1/claims/batch", json={"agent": "a-1", "max": n}).json()["claims"]
    assert len(claims) == n
    return worker, claims


def item(claim: dict[str, Any], action: str, command_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "jobId": claim["jobId"],
        "action": action,
        "leaseId": claim["leaseId"],
        "commandId": command_id,
        **fields,
    }


def send(worker: httpx.Client, items: list[dict[str, Any]], **options: Any) -> httpx.Response:
    return worker.post("/v1/jobs/commands", json={"commands": items}, **options)


def status_of(api: Api, job_id: str) -> str:
    return api.ledger.get(UUID(job_id)).status.value


def test_a_refused_item_holds_back_none_of_the_others(api: Api) -> None:
    worker, (a, b, c) = claimed(api, tenant(), 3)
    stale = {**b, "leaseId": "0" * 32}
    answer = send(worker, [item(a, "start", "s"), item(stale, "start", "s"), item(c, "start", "s")])
    assert answer.status_code == 200, answer.text
    first, refused, third = answer.json()["items"]
    assert [first["status"], refused["status"], third["status"]] == [200, 409, 200]
    assert (first["index"], first["answer"]["status"], first["answer"]["version"]) == (
        0,
        "running",
        3,
    )
    assert refused["problem"]["code"] == "lease_mismatch"
    assert refused["problem"]["currentState"] == "claimed"
    assert refused["answer"] is None
    assert answer.json()["applied"] == 2
    assert [status_of(api, j["jobId"]) for j in (a, b, c)] == ["running", "claimed", "running"]


def test_a_refused_item_gives_the_problem_its_own_endpoint_gives(api: Api) -> None:
    worker, (a,) = claimed(api, tenant(), 1)
    stale = {"leaseId": "0" * 32, "commandId": "x"}
    alone = worker.post(f"/v1/jobs/{a['jobId']}/start", json=stale).json()
    batched = send(worker, [item({**a, "leaseId": "0" * 32}, "start", "y")]).json()["items"][0]
    for fact in ("code", "detail", "currentState", "leaseState"):
        assert batched["problem"][fact] == alone[fact]
    assert batched["status"] == alone["status"]


def test_start_then_complete_of_one_job_in_one_request(api: Api) -> None:
    worker, claims = claimed(api, tenant(), 2)
    items = [item(c, "start", "s") for c in claims]
    items += [item(c, "complete", "c", result=RESULT) for c in claims]
    before = recorded(api)
    answer = send(worker, items).json()
    assert [i["status"] for i in answer["items"]] == [200] * 4
    assert [i["answer"]["status"] for i in answer["items"]] == ["running"] * 2 + ["completed"] * 2
    assert [i["answer"]["version"] for i in answer["items"]] == [3, 3, 4, 4]
    assert answer["items"][2]["answer"]["leaseExpiresAt"] is None
    assert all(status_of(api, c["jobId"]) == "completed" for c in claims)
    # four events and four receipts, stored in one transaction: consecutive positions
    assert recorded(api) - before == 8


def test_a_repeated_batch_gets_its_first_answers_and_records_nothing(api: Api) -> None:
    worker, (a, b) = claimed(api, tenant(), 2)
    items = [
        item(a, "start", "s"),
        item(a, "progress", "p", percent=40),
        item(b, "start", "s"),
        item(a, "complete", "c", result=RESULT),
    ]
    first = send(worker, items).json()["items"]
    before = recorded(api)
    again = send(worker, items).json()["items"]
    assert recorded(api) == before
    assert [i["replayed"] for i in again] == [True] * 4
    assert [i["answer"] for i in again] == [i["answer"] for i in first]
    # the same command id sent again with another body is refused, on its own
    changed = send(worker, [item(a, "progress", "p", percent=41), item(b, "heartbeat", "h")])
    reused, beat = changed.json()["items"]
    assert (reused["status"], reused["problem"]["code"]) == (409, "idempotency_conflict")
    assert (beat["status"], beat["replayed"]) == (200, False)


def test_a_command_sent_alone_then_in_a_batch_is_the_same_command(api: Api) -> None:
    worker, (a,) = claimed(api, tenant(), 1)
    alone = worker.post(
        f"/v1/jobs/{a['jobId']}/heartbeat", json={"leaseId": a["leaseId"], "commandId": "h1"}
    )
    assert alone.status_code == 200
    before = recorded(api)
    batched = send(worker, [item(a, "heartbeat", "h1"), item(a, "heartbeat", "h1")]).json()
    assert [i["replayed"] for i in batched["items"]] == [True, True]
    assert batched["items"][0]["answer"] == alone.json()
    assert recorded(api) == before
    # and the other way round: a batch's command sent again alone
    send(worker, [item(a, "heartbeat", "h2")])
    again = worker.post(
        f"/v1/jobs/{a['jobId']}/heartbeat", json={"leaseId": a["leaseId"], "commandId": "h2"}
    )
    assert again.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"result": None}, "body.commands.1.complete.result"),
        ({"action": "explode"}, "body.commands.1"),
        ({"leaseId": None}, "body.commands.1.complete.leaseId"),
        ({"percent": 5}, "body.commands.1.complete.percent"),
    ],
)
def test_a_bad_item_is_a_422_naming_it_and_records_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    worker, (a,) = claimed(api, tenant(), 1)
    bad = {k: v for k, v in {**item(a, "complete", "c"), **change}.items() if v is not None}
    before = recorded(api)
    answer = send(worker, [item(a, "start", "s"), bad])
    assert answer.status_code == 422, answer.text
    assert any(e["field"].startswith(field) for e in answer.json()["errors"])
    assert recorded(api) == before
    assert status_of(api, a["jobId"]) == "claimed"


def test_a_batch_outside_its_bounds_is_refused_whole(api: Api) -> None:
    worker, (a,) = claimed(api, tenant(), 1)
    before = recorded(api)
    too_many = send(worker, [item(a, "heartbeat", f"h{i}") for i in range(101)])
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "body.commands"
    assert bounds.MAX_COMMAND_BATCH == 100
    assert send(worker, []).status_code == 422
    long = item(a, "progress", "p", percent=1, message="m" * 4001)
    assert send(worker, [long]).json()["errors"][0]["field"] == "body.commands.0.progress.message"
    huge = item(a, "complete", "c", result={**RESULT, "notes": "x" * 1_100_000})
    assert send(worker, [huge]).status_code == 413
    assert recorded(api) == before


def test_another_tenants_job_is_not_found_and_other_roles_are_refused(api: Api) -> None:
    team = tenant()
    _, (a,) = claimed(api, team, 1)
    stranger = api.as_role("worker", tenant())
    for headers in ({}, {"X-Correlation-ID": "flow-1"}):  # a named workflow: no lookup
        answer = send(stranger, [item(a, "start", "s")], headers=headers).json()["items"][0]
        assert (answer["status"], answer["problem"]["code"]) == (404, "job_not_found")
    assert status_of(api, a["jobId"]) == "claimed"
    for role in ("analyst", "viewer", "admin"):
        refused = send(api.as_role(role, team), [item(a, "start", "s")])
        assert refused.status_code == 403, role
    assert api.http.post("/v1/jobs/commands", json={"commands": []}).status_code == 401
    assert status_of(api, a["jobId"]) == "claimed"


def test_each_item_runs_in_its_jobs_workflow_unless_the_request_names_one(api: Api) -> None:
    worker, (a, b) = claimed(api, tenant(), 2)
    send(worker, [item(a, "start", "s"), item(b, "start", "s")])
    for claim in (a, b):
        events = api.ledger.job_events(UUID(claim["jobId"]))
        assert events[-1].correlation_id == events[0].correlation_id == claim["correlationId"]
    named = send(worker, [item(a, "heartbeat", "h")], headers={"X-Correlation-ID": "flow-7"})
    assert named.headers["X-Correlation-ID"] == "flow-7"
    assert api.ledger.job_events(UUID(a["jobId"]))[-1].correlation_id == "flow-7"


def test_the_clients_send_the_commands_of_several_jobs_in_one_request(api: Api) -> None:
    team = tenant()
    analyst = api.as_role("analyst", team)
    analyst.post("/v1/jobs/batch", json={"jobs": [{"type": "graph_analysis"}] * 5})
    api.wait_for_read_models()
    worker = Worker(JobledgerClient(api.url, api.token("worker", team)), agent="gpu-1")
    first, second, third = worker.claim_many(3)
    with first, second, third:
        started = worker.send_many([(job, "start") for job in (first, second, third)])
        assert [a["status"] for a in started if isinstance(a, dict)] == ["running"] * 3
        second.task.lease_id = "0" * 32  # as if its lease had run out and gone elsewhere
        done = worker.send_many(
            [(job, "complete", {"result": RESULT}) for job in (first, second, third)]
        )
        assert isinstance(done[1], LeaseLost)
        assert [first.task.status, third.task.status] == ["completed", "completed"]
        assert (second.task.lease_lost, first.task.lease_lost) == (True, False)
    assert [status_of(api, j.task.job_id) for j in (first, second, third)] == [
        "completed",
        "running",
        "completed",
    ]

    async def rest() -> list[str]:
        async with AsyncJobledgerClient(api.url, api.token("worker", team)) as client:
            async_worker = AsyncWorker(client, agent="gpu-2")
            claimed = await async_worker.claim_many(2)
            async with claimed[0], claimed[1]:
                answers = await async_worker.send_many(
                    [(job, "start") for job in claimed]
                    + [(job, "complete", {"result": RESULT}) for job in claimed]
                )
            assert all(isinstance(a, dict) for a in answers)
            return [job.task.status for job in claimed]

    assert asyncio.run(rest()) == ["completed", "completed"]
    worker.client.close()


def test_a_batch_claim_stores_its_claims_together(api: Api) -> None:
    """The first claim alone (it may wait), then the other nine in one transaction."""
    team = tenant()
    api.as_role("analyst", team).post(
        "/v1/jobs/batch", json={"jobs": [{"type": "graph_analysis"}] * 10}
    )
    api.wait_for_read_models()
    group = group_of(api.ledger)
    before = group.transactions
    claims = api.as_role("worker", team).post("/v1/claims/batch", json={"agent": "a", "max": 10})
    assert len(claims.json()["claims"]) == 10
    assert group.transactions - before == 2
