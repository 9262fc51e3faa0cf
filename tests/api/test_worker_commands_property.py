"""A batch of worker commands answers as the same commands sent one by one: a property,
over a real server on both stores. Each example claims the same few jobs in two fresh
tenants, sends a random sequence of commands (valid and stale leases, repeated and
reused command ids, several on one job) as one batch in the first and one request at a
time in the second, and compares every answer and where every job ends."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api
from tests.api.test_worker_commands import RESULT, claimed, send

JOBS = 3
FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "start": st.just({}),
    "progress": st.sampled_from([{"percent": 30}, {"percent": 60}, {"percent": 10}]),
    "usage": st.just({"model": "gpt-4o", "inputTokens": 100}),
    "heartbeat": st.just({}),
    "validation": st.just({}),
    "upload": st.just({}),
    "complete": st.just({"result": RESULT}),
    "fail": st.sampled_from([{"code": "boom"}, {"code": "flaky", "retryable": True}]),
    "release": st.just({}),
    "cancellation-ack": st.just({}),
}

commands = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=JOBS - 1),
        st.sampled_from(sorted(FIELDS)).flatmap(
            lambda action: st.tuples(st.just(action), FIELDS[action])
        ),
        st.sampled_from(["c1", "c2", "c3", "c4"]),
        st.sampled_from([True, True, True, False]),  # False: a stale lease
    ),
    min_size=1,
    max_size=10,
)


def bodies(
    claims: list[dict[str, Any]], drawn: list[tuple[int, tuple[str, Any], str, bool]]
) -> list[dict[str, Any]]:
    return [
        {
            "jobId": claims[job]["jobId"],
            "action": action,
            "leaseId": claims[job]["leaseId"] if good else "f" * 32,
            "commandId": command_id,
            **fields,
        }
        for job, (action, fields), command_id, good in drawn
    ]


def one_by_one(worker: httpx.Client, items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    seen = []
    for item in items:
        path = f"/v1/jobs/{item['jobId']}/{item['action']}"
        fields = {k: v for k, v in item.items() if k not in ("jobId", "action")}
        answer = worker.post(path, json=fields)
        body = answer.json()
        if answer.status_code == 200:
            replayed = answer.headers.get("Idempotent-Replayed") == "true"
            seen.append((200, body["status"], body["version"], replayed))
        else:
            seen.append((answer.status_code, body["code"], body.get("currentState")))
    return seen


def batched(worker: httpx.Client, items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    answer = send(worker, items)
    assert answer.status_code == 200, answer.text
    seen = []
    for item in answer.json()["items"]:
        if item["status"] == 200:
            done = item["answer"]
            seen.append((200, done["status"], done["version"], item["replayed"]))
        else:
            problem = item["problem"]
            seen.append((item["status"], problem["code"], problem.get("currentState")))
    return seen


def ends(api: Api, claims: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    jobs = [api.ledger.get(UUID(c["jobId"])) for c in claims]
    return [(job.status.value, job.version, job.attempt) for job in jobs]


def test_a_batch_answers_as_its_commands_sent_one_by_one(api: Api) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=commands)
    def check(drawn: list[tuple[int, tuple[str, Any], str, bool]]) -> None:
        batch_worker, batch_claims = claimed(api, f"b-{uuid4().hex[:10]}", JOBS)
        single_worker, single_claims = claimed(api, f"s-{uuid4().hex[:10]}", JOBS)
        assert batched(batch_worker, bodies(batch_claims, drawn)) == one_by_one(
            single_worker, bodies(single_claims, drawn)
        )
        assert ends(api, batch_claims) == ends(api, single_claims)
        # and sent again, every answer is a repeat, as one by one
        assert batched(batch_worker, bodies(batch_claims, drawn)) == one_by_one(
            single_worker, bodies(single_claims, drawn)
        )

    check()
