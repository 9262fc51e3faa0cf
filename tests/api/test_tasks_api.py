"""Tasks over HTTP: named analyzers claim and update theirs, readers see the verdict,
and every refusal is a clear 4xx that records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.api.conftest import Api, run_api

pytestmark = pytest.mark.rules


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from run_api(Path(tmp_path_factory.mktemp("tasks")))


def submit(api: Api, *workers: str, subject: str = "sha256:feed") -> str:
    answer = api.as_role("analyst").post(
        "/v1/jobs", json={"type": "threat_modelling", "subject": subject, "workers": list(workers)}
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def analyzer(api: Api, worker: str, tenant: str = "acme") -> httpx.Client:
    return api.as_role("analyzer", tenant=tenant, sub=worker)


def claim(api: Api, worker: str) -> dict[str, Any]:
    api.wait_for_read_models()
    answer = analyzer(api, worker).post("/v1/claims/tasks", json={"commandId": uuid4().hex})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def put(client: httpx.Client, job: str, task: str, **body: Any) -> httpx.Response:
    return client.put(f"/v1/jobs/{job}/tasks/{task}", json=body)


def version(api: Api, job: str) -> int:
    return len(api.ledger.job_events(UUID(job)))


def test_a_job_of_tasks_runs_to_its_verdict_over_http(api: Api) -> None:
    job = submit(api, "av-1", "av-2")
    submitted = api.as_role("analyst").get(f"/v1/jobs/{job}").json()
    assert [t["state"] for t in submitted["tasks"]] == ["enqueued", "enqueued"]
    first = claim(api, "av-1")
    assert first["task"]["jobId"] == job
    assert first["jobStatus"] == "running"
    client, task, lease = analyzer(api, "av-1"), first["task"]["taskId"], first["leaseId"]
    renewed = put(client, job, task, state="executing", leaseId=lease, commandId="r-1")
    assert renewed.status_code == 200, renewed.text
    done = put(
        client,
        job,
        task,
        state="successful",
        score=60,
        analyses=["an-9"],
        leaseId=lease,
        commandId="s-1",
    )
    assert done.json()["task"]["state"] == "successful"
    again = put(
        client,
        job,
        task,
        state="successful",
        score=60,
        analyses=["an-9"],
        leaseId=lease,
        commandId="s-1",
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    second = claim(api, "av-2")
    failed = put(
        analyzer(api, "av-2"),
        job,
        second["task"]["taskId"],
        state="failed",
        error={"code": "crashed", "message": "oom"},
        leaseId=second["leaseId"],
        commandId="f-1",
    )
    assert failed.json()["verdict"]["score"] == 60
    assert failed.json()["jobStatus"] == "completed"
    api.wait_for_read_models()
    viewer = api.as_role("viewer")
    listed = viewer.get(f"/v1/jobs/{job}/tasks").json()
    assert [t["state"] for t in listed["tasks"]] == ["successful", "failed"]
    assert listed["verdict"]["counted"][0]["source"] == "task"
    one = viewer.get(f"/v1/jobs/{job}/tasks/{task}").json()
    assert (one["score"], one["analyses"]) == (60, ["an-9"])
    envelope = viewer.get(f"/v1/jobs/{job}").json()
    assert envelope["status"] == "completed"
    assert envelope["result"]["findings"][0]["kind"] == "verdict"
    assert envelope["subject"] == "sha256:feed"
    assert envelope["verdict"]["score"] == 60
    assert [t["worker"] for t in envelope["tasks"]] == ["av-1", "av-2"]
    workers = viewer.get("/v1/stats/workers").json()
    by_worker = {w["worker"]: w for w in workers["workers"]}
    assert (by_worker["av-1"]["successful"], by_worker["av-1"]["scoreMax"]) == (1, 60)
    assert by_worker["av-2"]["failed"] == 1
    assert workers["verdicts"]["verdicts"] >= 1
    plain = api.as_role("analyst").post("/v1/jobs", json={"type": "graph_analysis"}).json()
    assert (plain["subject"], plain["tasks"], plain["verdict"]) == (None, None, None)
    query = (
        '{ job(id: "%s") { subject tasks { worker state score } '
        "verdict { score counted { source } } } }"
    )
    through_graphql = viewer.post("/graphql", json={"query": query % job}).json()["data"]["job"]
    assert through_graphql == {
        "subject": "sha256:feed",
        "tasks": [
            {"worker": "av-1", "state": "SUCCESSFUL", "score": 60},
            {"worker": "av-2", "state": "FAILED", "score": None},
        ],
        "verdict": {"score": 60, "counted": [{"source": "task"}]},
    }
    plain_graphql = viewer.post("/graphql", json={"query": query % plain["id"]}).json()
    assert plain_graphql["data"]["job"] == {"subject": None, "tasks": None, "verdict": None}


def test_nothing_to_claim_is_204(api: Api) -> None:
    assert analyzer(api, "idle").post("/v1/claims/tasks", json={}).status_code == 204


@pytest.fixture
def claimed(api: Api) -> tuple[str, str, str]:
    job = submit(api, "mx-1", "mx-2", subject="sha256:matrix")
    first = claim(api, "mx-1")
    return job, first["task"]["taskId"], first["leaseId"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (("analyzer", "acme", "mx-2"), 403),  # the other task's worker
        (("analyzer", "globex", "mx-1"), 404),  # the same name in another tenant
        (("viewer", "acme", None), 403),
        (("worker", "acme", "mx-1"), 403),
    ],
)
def test_only_the_named_analyzer_updates_a_task(
    api: Api, claimed: tuple[str, str, str], who: tuple[str, str, str | None], status: int
) -> None:
    job, task, lease = claimed
    role, tenant, sub = who
    before = version(api, job)
    answer = put(
        api.as_role(role, tenant=tenant, sub=sub),
        job,
        task,
        state="successful",
        score=5,
        leaseId=lease,
        commandId="x",
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert version(api, job) == before


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"state": "successful", "score": 101}, 422, "score"),
        ({"state": "successful", "score": -2}, 422, "score"),
        ({"state": "successful"}, 422, "score"),
        ({"state": "failed"}, 422, "error"),
        ({"state": "successful", "score": 5, "leaseId": "stale"}, 409, "lease"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_records_nothing(
    api: Api, claimed: tuple[str, str, str], body: dict[str, Any], status: int, names: str
) -> None:
    job, task, lease = claimed
    before = version(api, job)
    answer = put(analyzer(api, "mx-1"), job, task, **{"leaseId": lease, "commandId": "b", **body})
    assert answer.status_code == status, answer.text
    assert names in answer.json()["detail"]
    assert version(api, job) == before


def test_a_final_task_is_not_moved_again(api: Api, claimed: tuple[str, str, str]) -> None:
    job, task, lease = claimed
    client = analyzer(api, "mx-1")
    put(client, job, task, state="successful", score=5, leaseId=lease, commandId="ok")
    before = version(api, job)
    answer = put(
        client, job, task, state="failed", error={"code": "late"}, leaseId=lease, commandId="late"
    )
    assert answer.status_code == 409
    assert version(api, job) == before


def test_readers_see_tasks_as_they_see_the_job(api: Api, claimed: tuple[str, str, str]) -> None:
    job, _, _ = claimed
    api.wait_for_read_models()
    assert api.as_role("viewer").get(f"/v1/jobs/{job}/tasks").status_code == 200
    assert analyzer(api, "mx-2").get(f"/v1/jobs/{job}/tasks").status_code == 200
    assert analyzer(api, "outsider").get(f"/v1/jobs/{job}/tasks").status_code == 404
    other = api.as_role("analyst", sub="bob@acme").get(f"/v1/jobs/{job}/tasks")
    assert other.status_code == 404
    assert api.as_role("viewer", tenant="globex").get(f"/v1/jobs/{job}/tasks").status_code == 404
    assert api.as_role("worker").get(f"/v1/jobs/{job}/tasks").status_code == 403


def test_the_python_client_runs_a_named_workers_task(api: Api) -> None:
    from jobledger.adapters.client.errors import ApiError
    from jobledger.adapters.client.sync import JobledgerClient
    from jobledger.adapters.client.tasks import TaskWorker

    job = submit(api, "py-1", subject="sha256:client")
    api.wait_for_read_models()
    token = api.token("analyzer", sub="py-1")
    with JobledgerClient(api.url, token) as client:
        task = TaskWorker(client, lease_seconds=30).claim()
        assert task is not None
        assert (task.job_id, task.subject) == (job, "sha256:client")
        task.renew()
        answer = task.succeed(91, ["an-py"])
        assert (answer["jobStatus"], answer["verdict"]["score"]) == ("completed", 91)
        with pytest.raises(ApiError) as refused:
            task.fail("late")
        assert refused.value.status == 409
        assert TaskWorker(client).claim() is None
