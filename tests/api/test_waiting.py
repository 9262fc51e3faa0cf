"""Long polls and live streams: they wake on changes, time out, and resume without gaps."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest

from jobledger.adapters.http.routes import streams as routes_streams
from jobledger.domain.values import Actor
from tests.api.conftest import Api
from tests.api.lifecycle import run_to_end, start

WORKER = Actor("worker-1", "acme")


def submit(api: Api, sub: str = "analyst@acme", tenant: str = "acme") -> str:
    answer = api.as_role("analyst", tenant, sub).post("/v1/jobs", json={"type": "graph_analysis"})
    assert answer.status_code == 202
    return str(answer.json()["id"])


def test_a_long_poll_returns_as_soon_as_the_job_completes(api: Api) -> None:
    job = submit(api)
    later = threading.Timer(0.5, run_to_end, args=(api.ledger, job))
    began = time.monotonic()
    later.start()
    answer = api.as_role("viewer").get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 30})
    waited = time.monotonic() - began
    assert answer.status_code == 200
    assert answer.json()["status"] == "completed"
    assert answer.json()["result"] is not None
    assert 0.4 < waited < 5, waited


def test_a_long_poll_answers_the_creator_with_the_jobs_config_and_metadata(api: Api) -> None:
    creator = api.as_role("analyst", "acme", "poller@acme")
    body = {"type": "graph_analysis", "config": {"depth": 3}, "metadata": {"ticket": "T-9"}}
    job = creator.post("/v1/jobs", json=body).json()["id"]
    threading.Timer(0.3, run_to_end, args=(api.ledger, job)).start()
    answer = creator.get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 30}).json()
    assert answer["status"] == "completed"
    assert (answer["config"], answer["metadata"]) == ({"depth": 3}, {"ticket": "T-9"})


def test_a_long_poll_answers_with_the_current_envelope_when_time_is_up(api: Api) -> None:
    job = submit(api)
    began = time.monotonic()
    answer = api.as_role("viewer").get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 1})
    assert 0.9 < time.monotonic() - began < 4
    assert answer.status_code == 200
    assert answer.json()["status"] == "queued"


def test_a_long_poll_on_a_finished_job_answers_at_once(api: Api) -> None:
    job = submit(api)
    api.as_role("analyst").post(f"/v1/jobs/{job}/cancel")
    api.wait_for_read_models()
    began = time.monotonic()
    answer = api.as_role("viewer").get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 30})
    assert time.monotonic() - began < 10  # far below the 30 s it would wait (slack for load)
    assert answer.json()["status"] == "cancelled"


def test_two_hundred_concurrent_long_polls_are_all_answered(api: Api) -> None:
    job = submit(api)
    token = api.token("viewer")

    async def wait_all() -> tuple[list[httpx.Response], float]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=api.url, limits=limits, timeout=60, headers=headers
        ) as client:
            polls = [
                asyncio.create_task(
                    client.get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 60})
                )
                for _ in range(200)
            ]
            deadline = time.monotonic() + 30
            while api.services.feed.waiting < 200:
                assert time.monotonic() < deadline, f"only {api.services.feed.waiting} waiting"
                await asyncio.sleep(0.05)
            health = await client.get("/healthz")  # the server is not stalled by the waiters
            assert health.status_code == 200
            began = time.monotonic()
            await asyncio.to_thread(api.ledger.cancel, Actor("analyst@acme", "acme"), UUID(job))
            answers = await asyncio.gather(*polls)
            return answers, time.monotonic() - began

    answers, took = asyncio.run(wait_all())
    assert [a.status_code for a in answers] == [200] * 200
    assert {a.json()["status"] for a in answers} == {"cancelled"}
    assert took < 10, took
    assert api.services.feed.waiting == 0


# -- Server-Sent Events -------------------------------------------------------------------


def messages(answer: httpx.Response) -> Iterator[dict[str, Any]]:
    """Each SSE message as {"id": int, **data}; comments and retry lines skipped."""
    fields: dict[str, str] = {}
    for line in answer.iter_lines():
        if line == "":
            if "data" in fields:
                yield {"id": int(fields["id"]), **json.loads(fields["data"])}
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def take(
    api: Api,
    url: str,
    count: int,
    token: str,
    last_id: int | None = None,
    after_first: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """The first ``count`` messages of a stream; ``after_first`` runs once the first has
    arrived (so a change it makes cannot come before the stream is open)."""
    headers = {"Authorization": f"Bearer {token}"}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    got: list[dict[str, Any]] = []
    with api.http.stream("GET", url, headers=headers, timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for message in messages(answer):
            got.append(message)
            if len(got) == 1 and after_first is not None:
                threading.Thread(target=after_first).start()
            if len(got) == count:
                break
    return got


def test_a_job_stream_starts_with_a_snapshot_then_follows_changes(api: Api) -> None:
    job = submit(api)
    api.wait_for_read_models()
    got = take(
        api,
        f"/v1/jobs/{job}/stream",
        6,
        api.token("viewer"),
        after_first=lambda: run_to_end(api.ledger, job),
    )
    assert got[0]["event"] == "Snapshot"
    assert got[0]["job"]["status"] == "queued"
    assert [m["event"] for m in got[1:]] == [
        "JobClaimed", "JobStarted", "ProgressReported", "UsageRecorded", "JobCompleted",
    ]  # fmt: skip
    assert [m["job"]["status"] for m in got[1:]] == [
        "claimed", "running", "running", "running", "completed",
    ]  # fmt: skip
    ids = [m["id"] for m in got]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_resuming_with_last_event_id_gives_no_gap_and_no_repeat(api: Api) -> None:
    job = submit(api)
    run_to_end(api.ledger, job)
    api.wait_for_read_models()
    token = api.token("viewer")
    url = f"/v1/jobs/{job}/stream"
    whole = take(api, url, 6, token, last_id=0)  # from the beginning of the log
    assert [m["event"] for m in whole] == [
        "JobSubmitted", "JobClaimed", "JobStarted",
        "ProgressReported", "UsageRecorded", "JobCompleted",
    ]  # fmt: skip
    for cut in range(len(whole) - 1):
        rest = take(api, url, len(whole) - cut - 1, token, last_id=whole[cut]["id"])
        assert rest == whole[cut + 1 :]
    assert whole[4]["job"]["tokens"] == {"input": 1000, "output": 100, "cachedInput": 0}
    assert whole[3]["job"]["progress"] == 50


def test_the_tenant_stream_shows_only_what_the_caller_may_read(api: Api) -> None:
    start_at = api.ledger.recorder.max_notification_id()
    mine = submit(api, "me@acme")
    colleague = submit(api, "bob@acme")
    foreign = submit(api, "eve@globex", tenant="globex")
    cancelled = api.as_role("analyst", "acme", "me@acme").post(f"/v1/jobs/{mine}/cancel")
    assert cancelled.status_code == 200
    api.wait_for_read_models()

    analyst = take(api, "/v1/stream", 2, api.token("analyst", "acme", "me@acme"), start_at)
    assert [(m["job"]["id"], m["event"]) for m in analyst] == [
        (mine, "JobSubmitted"), (mine, "JobCancelled"),
    ]  # fmt: skip
    viewer = take(api, "/v1/stream", 3, api.token("viewer"), start_at)
    assert [m["job"]["id"] for m in viewer] == [mine, colleague, mine]
    outsider = take(api, "/v1/stream", 1, api.token("viewer", "globex"), start_at)
    assert [m["job"]["id"] for m in outsider] == [foreign]


def test_a_live_tenant_stream_wakes_on_a_new_job(api: Api) -> None:
    threading.Timer(0.5, submit, args=(api, "live@acme")).start()
    got = take(api, "/v1/stream", 1, api.token("analyst", "acme", "live@acme"))
    assert got[0]["event"] == "JobSubmitted"
    assert got[0]["job"]["createdBy"] == "live@acme"


@pytest.mark.parametrize("last_id", [b"abc", b"-1", "\u00b2".encode("latin-1"), b"1" * 30])
def test_a_bad_last_event_id_is_422(api: Api, last_id: bytes) -> None:
    answer = api.http.get(
        "/v1/stream",
        headers={"Authorization": f"Bearer {api.token('viewer')}", "Last-Event-ID": last_id},
    )
    assert answer.status_code == 422
    assert "Last-Event-ID" in answer.json()["detail"]


def test_a_stream_keeps_alive_while_other_tenants_are_busy(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_streams, "KEEP_ALIVE_SECONDS", 0.5)
    busy = threading.Event()

    def other_tenant_traffic() -> None:
        while not busy.is_set():
            submit(api, "noisy@acme")
            busy.wait(0.1)

    threading.Thread(target=other_tenant_traffic, daemon=True).start()
    headers = {"Authorization": f"Bearer {api.token('viewer', 'quiet')}"}
    began = time.monotonic()
    try:
        with api.http.stream("GET", "/v1/stream", headers=headers, timeout=10) as answer:
            for line in answer.iter_lines():
                if line.startswith(": keep-alive"):
                    break
    finally:
        busy.set()
    assert time.monotonic() - began < 3


def test_started_jobs_show_in_the_stream_with_their_worker(api: Api) -> None:
    job = submit(api)
    api.wait_for_read_models()
    first = take(api, f"/v1/jobs/{job}/stream", 1, api.token("viewer"))[0]
    start(api.ledger, job)
    got = take(api, f"/v1/jobs/{job}/stream", 2, api.token("viewer"), first["id"])
    assert [m["job"]["status"] for m in got] == ["claimed", "running"]
    assert got[-1]["job"]["agent"] == "worker-1"
