"""Submitting, reading, listing and cancelling jobs over HTTP, and the envelope's shape."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from jobledger.domain.retries import RetryPolicy
from jobledger.domain.values import Actor
from tests.api.conftest import Api
from tests.api.lifecycle import run_to_end, start

ENVELOPE_KEYS = {
    "id", "type", "status", "createdAt", "updatedAt", "result", "error", "progress", "attempt",
    "maxAttempts", "priority", "tenantId", "investigationId", "createdBy", "agent", "pool",
    "leaseExpiresAt", "notBefore",
    "tokens", "cost", "projectedCost", "estimatedCompletionAt", "cancellationRequested",
    "findings", "startedAt", "finishedAt", "version", "inputs", "config", "metadata",
    "subject", "tasks", "verdict",
    "processingTimeMs",
}  # fmt: skip
SUMMARY_KEYS = ENVELOPE_KEYS - {
    "result",
    "inputs",
    "config",
    "metadata",
    "subject",
    "tasks",
    "verdict",
}
JOB = {
    "type": "entity_extraction",
    "investigationId": "INV-1042",
    "inputs": [{"name": "corpus.jsonl", "mediaType": "application/jsonl", "sizeBytes": 52311}],
    "config": {"language": "en"},
    "metadata": {"ticket": "T-1"},
    "priority": 7,
    "maxAttempts": 2,
}


def submit(api: Api, tenant: str = "acme", sub: str | None = None, **body: object) -> dict:
    answer = api.as_role("analyst", tenant, sub).post("/v1/jobs", json={**JOB, **body})
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_submit_answers_202_with_the_envelope_location_and_etag(api: Api) -> None:
    answer = api.as_role("analyst", sub="ana@acme").post("/v1/jobs", json=JOB)
    assert answer.status_code == 202
    job = answer.json()
    assert set(job) == ENVELOPE_KEYS
    assert answer.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert answer.headers["ETag"] == '"1"'
    assert job["status"] == "queued"
    assert job["result"] is None
    assert job["error"] is None
    assert job["createdBy"] == "ana@acme"
    assert job["tenantId"] == "acme"
    assert job["createdAt"].endswith("Z")
    assert job["cost"] == {"amount": "0", "currency": "USD"}
    assert job["inputs"] == [
        {"name": "corpus.jsonl", "mediaType": "application/jsonl", "sizeBytes": 52311, "uri": None}
    ]
    assert (job["config"], job["metadata"]) == ({"language": "en"}, {"ticket": "T-1"})
    events = api.ledger.job_events(UUID(job["id"]))
    assert events[0].actor == "ana@acme"  # the token's subject is the recorded actor


def test_envelope_of_queued_running_completed_and_failed_jobs(api: Api) -> None:
    reader = api.as_role("viewer")
    queued = submit(api)
    running = submit(api)
    lease = start(api.ledger, running["id"])
    api.ledger.report_progress(
        Actor("worker-1", "acme"), UUID(running["id"]), lease_id=lease, percent=40
    )
    completed = submit(api)
    run_to_end(api.ledger, completed["id"])
    failed = submit(api, maxAttempts=1)
    run_to_end(api.ledger, failed["id"], fail=True)
    api.wait_for_read_models()

    shapes = {}
    for job in (queued, running, completed, failed):
        answer = reader.get(f"/v1/jobs/{job['id']}")
        assert answer.status_code == 200
        assert answer.headers["ETag"] == f'"{answer.json()["version"]}"'
        shapes[answer.json()["status"]] = answer.json()
    assert set(shapes) == {"queued", "running", "completed", "failed"}
    for envelope in shapes.values():
        assert set(envelope) == ENVELOPE_KEYS
        # a viewer is not the creator
        assert (envelope["inputs"], envelope["config"], envelope["metadata"]) == (None, None, None)
    assert shapes["running"]["progress"] == 40
    assert shapes["running"]["agent"] == "worker-1"
    assert shapes["completed"]["result"]["type"] == "entity_extraction"
    assert shapes["completed"]["error"] is None
    assert shapes["completed"]["tokens"] == {"input": 1000, "output": 100, "cachedInput": 0}
    assert shapes["completed"]["cost"]["currency"] == "USD"
    assert float(shapes["completed"]["cost"]["amount"]) > 0
    assert shapes["failed"]["error"] == {"code": "corrupt_input", "message": "not JSON Lines"}
    assert shapes["failed"]["result"] is None
    assert shapes["queued"]["result"] is None
    assert shapes["queued"]["error"] is None


def test_only_the_creator_sees_inputs_config_and_metadata(api: Api) -> None:
    job = submit(api, sub="creator@acme", config={"language": "en", "depth": [1, 2]})
    api.wait_for_read_models()
    own = api.as_role("analyst", sub="creator@acme").get(f"/v1/jobs/{job['id']}").json()
    admin = api.as_role("admin").get(f"/v1/jobs/{job['id']}").json()
    assert own["inputs"][0]["name"] == "corpus.jsonl"
    assert own["config"] == {"language": "en", "depth": [1, 2]}
    assert own["metadata"] == {"ticket": "T-1"}
    assert (admin["inputs"], admin["config"], admin["metadata"]) == (None, None, None)


def test_a_job_submitted_without_config_or_metadata_shows_them_empty(api: Api) -> None:
    answer = api.as_role("analyst", sub="bare@acme").post(
        "/v1/jobs", json={"type": "graph_analysis"}
    )
    api.wait_for_read_models()
    job = api.as_role("analyst", sub="bare@acme").get(f"/v1/jobs/{answer.json()['id']}").json()
    assert (job["config"], job["metadata"]) == ({}, {})


def test_a_list_shows_summaries_without_what_only_the_envelope_carries(api: Api) -> None:
    submit(api, sub="lister@acme")
    api.wait_for_read_models()
    page = api.as_role("analyst", sub="lister@acme").get("/v1/jobs").json()
    assert page["items"]
    assert all(set(item) == SUMMARY_KEYS for item in page["items"])


def test_idempotency_key_repeat_returns_the_first_answer_and_creates_nothing(api: Api) -> None:
    client = api.as_role("analyst", sub="retry@acme")
    key = {"Idempotency-Key": f"k-{uuid4()}"}
    first = client.post("/v1/jobs", json=JOB, headers=key)
    end = api.ledger.recorder.max_notification_id()
    again = client.post("/v1/jobs", json=JOB, headers=key)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.ledger.recorder.max_notification_id() == end

    other = client.post("/v1/jobs", json={**JOB, "priority": 1}, headers=key)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_conflict"
    assert api.ledger.recorder.max_notification_id() == end


def test_cancel_with_a_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    job = submit(api, sub="c@acme")
    client = api.as_role("analyst", sub="c@acme")
    start(api.ledger, job["id"])  # now at version 3
    end = api.ledger.recorder.max_notification_id()
    stale = client.post(
        f"/v1/jobs/{job['id']}/cancel", json={"reason": "x"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert stale.json()["currentVersion"] == 3
    assert api.ledger.recorder.max_notification_id() == end

    asked = client.post(
        f"/v1/jobs/{job['id']}/cancel", json={"reason": "wrong corpus"}, headers={"If-Match": '"3"'}
    )
    assert asked.status_code == 202  # running: its worker is asked to stop
    assert asked.json()["cancellationRequested"] is True
    assert asked.headers["ETag"] == '"4"'


def test_cancelling_a_queued_job_cancels_it_and_twice_is_409(api: Api) -> None:
    job = submit(api, sub="d@acme")
    client = api.as_role("analyst", sub="d@acme")
    first = client.post(f"/v1/jobs/{job['id']}/cancel", json={"reason": "duplicate"})
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    second = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert second.status_code == 409
    problem = second.json()
    assert problem["currentState"] == "cancelled"
    assert problem["allowedTriggers"] == []
    assert "cancel is not allowed" in problem["detail"]


def test_list_filters_pages_and_an_analyst_sees_only_their_own(api: Api) -> None:
    tenant = f"t-{uuid4().hex[:8]}"
    mine = [submit(api, tenant, "me@t")["id"] for _ in range(3)]
    theirs = [submit(api, tenant, "them@t", type="graph_analysis")["id"] for _ in range(2)]
    api.wait_for_read_models()

    analyst = api.as_role("analyst", tenant, "me@t")
    listed = analyst.get("/v1/jobs").json()
    assert {j["id"] for j in listed["items"]} == set(mine)
    assert listed["position"] >= 1
    assert analyst.get("/v1/jobs", params={"createdBy": "them@t"}).json()["items"] == []

    viewer = api.as_role("viewer", tenant)
    seen, cursor = [], None
    while True:
        page = viewer.get(
            "/v1/jobs", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(mine + theirs)
    graph = viewer.get("/v1/jobs", params={"type": "graph_analysis"}).json()["items"]
    assert {j["id"] for j in graph} == set(theirs)
    queued = viewer.get("/v1/jobs", params={"status": ["queued", "running"]}).json()["items"]
    assert len(queued) == 5
    assert viewer.get("/v1/jobs", params={"mine": "true"}).json()["items"] == []


def test_created_between_combines_with_the_other_filters(api: Api) -> None:
    """The dashboard's "created between" filter: from inclusive, before exclusive."""
    tenant = f"t-{uuid4().hex[:8]}"
    first = submit(api, tenant, "me@t")
    second = submit(api, tenant, "me@t")
    third = submit(api, tenant, "me@t", type="graph_analysis")
    api.wait_for_read_models()
    viewer = api.as_role("viewer", tenant)

    def listed(**params: object) -> list[str]:
        answer = viewer.get("/v1/jobs", params=params)
        assert answer.status_code == 200, answer.text
        return [j["id"] for j in answer.json()["items"]]

    window = {"createdAfter": second["createdAt"], "createdBefore": third["createdAt"]}
    assert listed(**window) == [second["id"]]
    assert listed(createdAfter=second["createdAt"]) == [third["id"], second["id"]]
    assert listed(createdBefore=second["createdAt"]) == [first["id"]]
    after_first = {"createdAfter": first["createdAt"]}
    assert listed(**after_first, type="graph_analysis") == [third["id"]]
    assert listed(**window, status="cancelled") == []


def test_a_jobs_costs_by_model_and_attempt_show_unpriced_usage_and_failed_spend(
    api: Api,
) -> None:
    tenant = f"t-{uuid4().hex[:8]}"
    job = submit(api, tenant, "me@t")
    worker, job_id = Actor("worker-1", tenant), UUID(job["id"])
    retry, api.ledger.retry = api.ledger.retry, RetryPolicy(0, 0)  # retry at once
    try:
        lease = start(api.ledger, job_id, tenant)
        usage = {"input_tokens": 1000, "output_tokens": 100}
        api.ledger.record_usage(worker, job_id, lease_id=lease, model="gpt-4o", **usage)
        api.ledger.fail(worker, job_id, lease_id=lease, code="flaky", message="", retryable=True)
        lease = start(api.ledger, job_id, tenant)
    finally:
        api.ledger.retry = retry
    api.ledger.record_usage(worker, job_id, lease_id=lease, model="gpt-4o", **usage)
    api.ledger.record_usage(worker, job_id, lease_id=lease, model="no-such-model", **usage)
    api.wait_for_read_models()

    costs = api.as_role("analyst", tenant, "me@t").get(f"/v1/jobs/{job_id}/costs")
    assert costs.status_code == 200, costs.text
    by_model = {item["key"]: item for item in costs.json()["byModel"]}
    assert set(by_model) == {"gpt-4o", "no-such-model"}
    priced, unpriced = by_model["gpt-4o"], by_model["no-such-model"]
    assert (priced["usages"], priced["unpricedUsages"]) == (2, 0)
    assert (unpriced["usages"], unpriced["unpricedUsages"]) == (1, 1)
    assert Decimal(unpriced["cost"]["amount"]) == 0
    first, second = costs.json()["byAttempt"]
    assert (first["key"], second["key"]) == ("1", "2")
    spent = Decimal(first["cost"]["amount"])
    assert spent > 0
    assert Decimal(first["unsuccessfulCost"]["amount"]) == spent  # the failed attempt's spend
    assert Decimal(second["unsuccessfulCost"]["amount"]) == 0
    assert Decimal(priced["unsuccessfulCost"]["amount"]) == spent
    assert Decimal(priced["cost"]["amount"]) == 2 * spent

    assert (
        api.as_role("analyst", tenant, "other@t").get(f"/v1/jobs/{job_id}/costs").status_code == 404
    )
    assert api.as_role("viewer", "elsewhere").get(f"/v1/jobs/{job_id}/costs").status_code == 404


def test_cost_per_day_splits_by_model_or_investigation_and_only_per_day(api: Api) -> None:
    tenant = f"t-{uuid4().hex[:8]}"
    usage = {"input_tokens": 1000, "output_tokens": 100}
    for investigation, models in (("inv-a", ["gpt-4o", "no-such-model"]), ("inv-b", ["gpt-4o"])):
        job = UUID(submit(api, tenant, "me@t", investigationId=investigation)["id"])
        lease = start(api.ledger, job, tenant)
        for model in models:
            api.ledger.record_usage(
                Actor("worker-1", tenant), job, lease_id=lease, model=model, **usage
            )
    api.wait_for_read_models()
    viewer = api.as_role("viewer", tenant)

    def per_day(split: str) -> dict[tuple[str, str], dict]:
        answer = viewer.get("/v1/costs", params={"groupBy": "day", "split": split})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["groupBy"], answer.json()["split"]) == ("day", split)
        return {(i["key"], i["split"]): i for i in answer.json()["items"]}

    (total,) = viewer.get("/v1/costs", params={"groupBy": "day"}).json()["items"]
    day = total["key"]
    by_model = per_day("model")
    assert set(by_model) == {(day, "gpt-4o"), (day, "no-such-model")}
    assert by_model[day, "gpt-4o"]["usages"] == 2
    assert by_model[day, "no-such-model"]["unpricedUsages"] == 1
    by_investigation = per_day("investigation")
    assert set(by_investigation) == {(day, "inv-a"), (day, "inv-b")}
    assert by_investigation[day, "inv-a"]["usages"] == 2
    for split in (by_model, by_investigation):  # the parts add up to the day's total
        spent = sum(Decimal(i["cost"]["amount"]) for i in split.values())
        assert spent == Decimal(total["cost"]["amount"]) > 0

    refused = viewer.get("/v1/costs", params={"groupBy": "model", "split": "investigation"})
    assert refused.status_code == 422
    assert "split" in refused.json()["detail"]
    unknown = viewer.get("/v1/costs", params={"groupBy": "day", "split": "tenant"})
    assert unknown.status_code == 422
    assert "split" in unknown.text


def test_an_admin_submits_and_the_job_is_theirs(api: Api) -> None:
    tenant = f"t-{uuid4().hex[:8]}"
    admin = api.as_role("admin", tenant, "boss@t")
    answer = admin.post("/v1/jobs", json=JOB)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["createdBy"] == "boss@t"
    assert job["metadata"] == JOB["metadata"]  # the creator sees what they submitted
    api.wait_for_read_models()
    mine = admin.get("/v1/jobs", params={"mine": "true"}).json()["items"]
    assert [j["id"] for j in mine] == [job["id"]]
    analyst = api.as_role("analyst", tenant, "me@t")
    assert analyst.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert api.as_role("viewer", tenant).post("/v1/jobs", json=JOB).status_code == 403


def test_daily_statistics_count_each_days_jobs_and_cost(api: Api) -> None:
    tenant = f"t-{uuid4().hex[:8]}"
    done, dropped = submit(api, tenant, "me@t"), submit(api, tenant, "me@t")
    run_to_end(api.ledger, done["id"], tenant)
    api.as_role("analyst", tenant, "me@t").post(f"/v1/jobs/{dropped['id']}/cancel", json={})
    api.wait_for_read_models()
    viewer = api.as_role("viewer", tenant)
    (today,) = viewer.get("/v1/stats/daily").json()["items"]
    assert today["day"] == done["createdAt"][:10]
    counts = [today[k] for k in ("submitted", "completed", "failed", "cancelled")]
    assert counts == [2, 1, 0, 1]
    (total,) = viewer.get("/v1/costs", params={"groupBy": "day"}).json()["items"]
    assert today["cost"] == total["cost"]
    assert Decimal(today["cost"]["amount"]) > 0
    after = date.fromisoformat(today["day"]) + timedelta(days=1)
    assert viewer.get("/v1/stats/daily", params={"since": str(after)}).json()["items"] == []
    assert api.as_role("analyst", tenant, "me@t").get("/v1/stats/daily").status_code == 403


def test_history_lists_each_transition(api: Api) -> None:
    job = submit(api, sub="h@acme")
    run_to_end(api.ledger, job["id"])
    api.wait_for_read_models()
    history = api.as_role("analyst", sub="h@acme").get(f"/v1/jobs/{job['id']}/history").json()
    assert [c["toStatus"] for c in history["items"]] == [
        "queued", "claimed", "running", "completed",
    ]  # fmt: skip
    assert history["items"][0]["fromStatus"] is None
    assert history["items"][1]["actor"] == "worker-1"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"type": "entity_extraction",', 400, None),
        (b'{"type": "no_such_type"}', 422, "body.type"),
        (b'{"type": "entity_extraction", "priority": 12}', 422, "body.priority"),
        (b'{"type": "entity_extraction", "priority": "7"}', 422, "body.priority"),
        (b'{"type": "entity_extraction", "surprise": 1}', 422, "body.surprise"),
        (
            b'{"type": "entity_extraction", "inputs": [{"name": "x"}]}',
            422,
            "body.inputs.0.mediaType",
        ),
        (b"[1, 2]", 422, "body"),
    ],
)
def test_bad_submissions_are_clear_problems_and_record_nothing(
    api: Api, body: bytes, status: int, field: str | None
) -> None:
    end = api.ledger.recorder.max_notification_id()
    answer = api.as_role("analyst").post(
        "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
        assert field in problem["detail"]
    assert api.ledger.recorder.max_notification_id() == end


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    big = {**JOB, "metadata": {"blob": "x" * (1024 * 1024)}}
    client = api.as_role("analyst")
    declared = client.post("/v1/jobs", json=big)
    assert declared.status_code == 413
    assert declared.json()["code"] == "body_too_large"

    def chunks():  # no Content-Length: the server counts what arrives
        yield json.dumps(big).encode()

    streamed = client.post(
        "/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    client = api.as_role("viewer")
    assert client.get("/v1/nothing").json()["status"] == 404
    wrong = client.delete("/v1/jobs")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"


def test_a_bad_job_id_or_query_names_the_parameter(api: Api) -> None:
    client = api.as_role("viewer")
    answer = client.get("/v1/jobs/not-a-uuid")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "path.job_id"
    answer = client.get("/v1/jobs", params={"limit": 501})
    assert answer.status_code == 422
    assert "query.limit" in answer.json()["detail"]
    answer = client.get("/v1/jobs", params={"agent": "a\x00b"})
    assert answer.status_code == 422
    assert "NUL" in answer.json()["detail"]
    answer = client.get("/v1/jobs", params={"cursor": "garbage"})
    assert answer.status_code == 422
    assert "cursor" in answer.json()["detail"]
    answer = client.get("/v1/jobs", params={"createdAfter": "2026-11-01T00:00:00"})
    assert answer.status_code == 422
    assert "query.createdAfter" in answer.json()["detail"]


def test_if_match_compares_strongly_and_accepts_a_list(api: Api) -> None:
    client = api.as_role("analyst", sub="etag@acme")
    job = client.post("/v1/jobs", json=JOB).json()["id"]
    weak = client.post(f"/v1/jobs/{job}/cancel", headers={"If-Match": 'W/"1"'})
    assert weak.status_code == 412
    assert weak.json()["currentVersion"] == 1
    listed = client.post(f"/v1/jobs/{job}/cancel", headers={"If-Match": '"7", "1"'})
    assert listed.status_code == 200
    assert listed.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "graph_analysis", "config": {"x": NaN}}',
        b'{"type": "graph_analysis", "metadata": {"x": [1, Infinity]}}',
        b'{"type": "graph_analysis", "config": {"a": "\\ud800"}}',
        b'{"type": "graph_analysis", "config": {"\\ud800": 1}}',
        b'{"type": "graph_analysis", "\\ud800": 1}',
        b'{"type": "graph_analysis", "investigationId": "INV\\u0000"}',
    ],
)
def test_what_json_or_the_store_cannot_carry_is_422(api: Api, body: bytes) -> None:
    end = api.ledger.recorder.max_notification_id()
    answer = api.as_role("analyst").post(
        "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]
    assert api.ledger.recorder.max_notification_id() == end


def test_a_forged_cursor_out_of_range_is_422(api: Api) -> None:
    import base64

    forged = {"t": "0001-01-01T00:00:00+14:00", "i": str(uuid4()), "o": "newest"}
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    answer = api.as_role("viewer").get("/v1/jobs", params={"cursor": cursor})
    assert answer.status_code == 422
    assert "cursor" in answer.json()["detail"]
