"""The GraphQL API at /graphql: REST's security, answers and rules, through GraphQL.

Runs against a real uvicorn server (SQLite: the rules are the API's, not the store's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest

from jobledger.adapters.store.sqlite.read_store import SQLiteReadStore
from tests.api.conftest import Api
from tests.api.test_auth_matrix import BAD_TOKENS, ROLES

pytestmark = pytest.mark.rules

Gql = Callable[..., dict[str, Any]]

OPERATIONS: dict[str, tuple[str, frozenset[str]]] = {
    # name: (document, roles that may run it); {job} is a job of acme by analyst@acme
    "job": (
        '{ job(id: "{job}") { id status } }',
        frozenset({"analyst", "viewer", "admin", "auditor"}),
    ),
    "jobs": (
        "{ jobs(first: 5) { totalCount edges { node { id } } } }",
        frozenset({"analyst", "viewer", "admin", "auditor"}),
    ),
    "events": ('{ job(id: "{job}") { events { type } } }', frozenset({"auditor"})),
    "statistics": ("{ statistics { type completed } }", frozenset({"viewer", "admin", "auditor"})),
    "costs": ("{ costs(groupBy: MODEL) { key } }", frozenset({"viewer", "admin", "auditor"})),
    "submitJob": (
        "mutation { submitJob(input: {type: GRAPH_ANALYSIS}) { id } }",
        frozenset({"analyst", "admin"}),
    ),
    "cancelJob": (
        'mutation { cancelJob(id: "{fresh}") { status } }',
        frozenset({"analyst", "admin"}),
    ),
}


def post(client: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables})


@pytest.fixture(scope="module")
def analyst(api: Api) -> httpx.Client:
    return api.as_role("analyst", "acme", "analyst@acme")


def submit(client: httpx.Client, **body: Any) -> str:
    answer = client.post("/v1/jobs", json={"type": "entity_extraction", **body})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


@pytest.fixture(scope="module")
def shared_job(api: Api, analyst: httpx.Client) -> str:
    job = submit(analyst)
    api.wait_for_read_models()
    return job


def document(name: str, job: str, analyst: httpx.Client) -> str:
    text, _ = OPERATIONS[name]
    if "{fresh}" in text:
        text = text.replace("{fresh}", submit(analyst))
    return text.replace("{job}", job)


@pytest.mark.parametrize("bad", list(BAD_TOKENS))
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_bad_token_is_a_401_problem_before_anything_runs(
    api: Api, name: str, bad: str, shared_job: str, analyst: httpx.Client
) -> None:
    text = document(name, shared_job, analyst)
    end = api.ledger.recorder.max_notification_id()
    headers = {"Authorization": f"Bearer {BAD_TOKENS[bad](api)}"}
    answer = api.http.post("/graphql", json={"query": text}, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith('Bearer realm="jobledger"')
    assert api.ledger.recorder.max_notification_id() == end


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_no_token_is_a_401_problem(api: Api, name: str, shared_job: str) -> None:
    answer = api.http.post("/graphql", json={"query": OPERATIONS[name][0]})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="jobledger"'


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_each_role_may_do_what_the_shared_policy_says(
    api: Api, name: str, role: str, shared_job: str, analyst: httpx.Client
) -> None:
    client = analyst if role == "analyst" else api.as_role(role)
    body = post(client, document(name, shared_job, analyst)).json()
    if role in OPERATIONS[name][1]:
        assert "errors" not in body, body
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["forbidden"], body


def test_another_tenants_job_is_null_and_cannot_be_cancelled(api: Api, shared_job: str) -> None:
    for role in ("viewer", "admin", "auditor"):
        other = api.as_role(role, tenant="globex")
        found = post(other, f'{{ job(id: "{shared_job}") {{ id }} }}').json()
        assert found == {"data": {"job": None}}
    refused = post(
        api.as_role("admin", tenant="globex"),
        OPERATIONS["cancelJob"][0].replace("{fresh}", shared_job),
    ).json()
    assert refused["errors"][0]["extensions"] == {"code": "job_not_found", "status": 404}
    listed = post(api.as_role("viewer", tenant="globex"), "{ jobs { totalCount } }").json()
    assert listed["data"]["jobs"]["totalCount"] == 0


def test_graphiql_is_served_to_a_browser_without_a_token(api: Api) -> None:
    page = api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


def test_a_job_answers_what_rest_answers(api: Api, analyst: httpx.Client) -> None:
    job = submit(
        analyst,
        config={"depth": 2},
        inputs=[{"name": "a.txt", "mediaType": "text/plain", "sizeBytes": 3}],
    )
    api.wait_for_read_models()
    rest = analyst.get(f"/v1/jobs/{job}").json()
    query = """query ($id: UUID!) { job(id: $id) { id status createdBy version tokens { input output cachedInput }
      cost { amount currency } findings { entities } config inputs { name sizeBytes }
      history { toStatus trigger } result { __typename } } }"""
    found = post(analyst, query, id=job).json()["data"]["job"]
    assert found["id"] == rest["id"]
    assert found["version"] == rest["version"]
    assert found["status"] == rest["status"].upper()
    assert found["tokens"] == rest["tokens"]
    assert found["cost"] == rest["cost"]
    assert found["config"] == rest["config"] == {"depth": 2}
    assert found["inputs"] == [{"name": "a.txt", "sizeBytes": 3}]
    assert found["history"] == [{"toStatus": "QUEUED", "trigger": "submit"}]
    assert found["result"] is None
    viewer = post(api.as_role("viewer"), query, id=job).json()["data"]["job"]
    assert viewer["config"] is None  # shown to the creator only
    assert viewer["inputs"] is None


def test_submit_is_idempotent_by_key_and_cancel_checks_the_version(
    api: Api, analyst: httpx.Client
) -> None:
    key = uuid4().hex
    text = (
        'mutation { submitJob(input: {type: GRAPH_ANALYSIS, idempotencyKey: "%s"}) { id version } }'
    )
    first = post(analyst, text % key).json()["data"]["submitJob"]
    again = post(analyst, text % key).json()["data"]["submitJob"]
    assert first == again
    cancel = 'mutation ($id: UUID!, $v: Int) { cancelJob(id: $id, reason: "no", expectedVersion: $v) { status version } }'
    stale = post(analyst, cancel, id=first["id"], v=7).json()
    assert stale["errors"][0]["extensions"] == {
        "code": "precondition_failed",
        "status": 412,
        "currentVersion": 1,
    }
    done = post(analyst, cancel, id=first["id"], v=1).json()
    assert done["data"]["cancelJob"] == {"status": "CANCELLED", "version": 2}
    illegal = post(analyst, cancel, id=first["id"], v=None).json()
    assert illegal["errors"][0]["extensions"]["code"] == "illegal_transition"


def test_bad_input_names_the_field_and_records_nothing(api: Api, analyst: httpx.Client) -> None:
    end = api.ledger.recorder.max_notification_id()
    body = post(
        analyst, "mutation { submitJob(input: {type: GRAPH_ANALYSIS, priority: 99}) { id } }"
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "invalid_request"
    assert "priority" in body["errors"][0]["message"]
    assert api.ledger.recorder.max_notification_id() == end


def test_paging_both_ways_returns_every_job_once_while_jobs_are_added(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    client = api.as_role("analyst", tenant)
    before = {submit(client) for _ in range(7)}
    api.wait_for_read_models()
    page = "query ($after: String) { jobs(first: 3, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    seen: list[str] = []
    after = None
    while True:
        found = post(client, page, after=after).json()["data"]["jobs"]
        seen += [e["node"]["id"] for e in found["edges"]]
        submit(client)  # newer jobs appear ahead of the pages still to come: never in them
        api.wait_for_read_models()
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(before)
    assert len(seen) == len(before)
    back = "query ($before: String) { jobs(last: 3, before: $before) { edges { node { id } } pageInfo { hasPreviousPage startCursor } } }"
    everything = post(client, "{ jobs(first: 100) { totalCount edges { node { id } } } }").json()
    newest_first = [e["node"]["id"] for e in everything["data"]["jobs"]["edges"]]
    assert everything["data"]["jobs"]["totalCount"] == len(newest_first) > len(before)
    backwards: list[str] = []
    cursor = None
    while True:
        found = post(client, back, before=cursor).json()["data"]["jobs"]
        backwards = [e["node"]["id"] for e in found["edges"]] + backwards
        if not found["pageInfo"]["hasPreviousPage"]:
            break
        cursor = found["pageInfo"]["startCursor"]
    assert backwards == newest_first


def test_a_tampered_cursor_is_a_clear_error(api: Api, analyst: httpx.Client) -> None:
    body = post(analyst, '{ jobs(after: "eyJ0IjogMX0") { totalCount } }').json()
    assert body["errors"][0]["message"] == "cursor: not a cursor this ledger issued"
    assert body["errors"][0]["extensions"]["code"] == "invalid_command"
    too_big = post(analyst, "{ jobs(first: 501) { totalCount } }").json()
    assert too_big["errors"][0]["message"].startswith("first:")


def test_filters_combine(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    client = api.as_role("analyst", tenant)
    wanted = submit(client, investigationId="inv-1", type="graph_analysis")
    submit(client, investigationId="inv-1")
    submit(client, investigationId="inv-2", type="graph_analysis")
    api.wait_for_read_models()
    query = '{ jobs(filter: {investigationId: "inv-1", type: GRAPH_ANALYSIS, status: [QUEUED]}) { totalCount edges { node { id } } } }'
    found = post(client, query).json()["data"]["jobs"]
    assert found["totalCount"] == 1
    assert found["edges"][0]["node"]["id"] == wanted


@pytest.mark.parametrize(
    ("hostile", "says"),
    [
        (
            "{ jobs { edges { node { history { actor } } } pageInfo { hasNextPage } } "
            + "me { subject } " * 700
            + "}",
            "token",
        ),
        (
            "{ a: me { subject } " + " ".join(f"a{i}: me {{ tenant }}" for i in range(40)) + " }",
            "alias",
        ),
    ],
)
def test_a_hostile_query_is_refused_quickly_before_it_runs(
    api: Api, analyst: httpx.Client, hostile: str, says: str
) -> None:
    started = time.monotonic()
    body = post(analyst, hostile).json()
    assert time.monotonic() - started < 2.0
    assert body.get("data") is None
    assert says in body["errors"][0]["message"].lower()
    assert body["errors"][0]["extensions"]["code"] == "invalid_query"


def test_a_page_with_histories_and_results_runs_a_bounded_number_of_statements(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    client = api.as_role(["analyst", "viewer"], tenant)
    for _ in range(30):
        submit(client)
    api.wait_for_read_models()
    statements: list[str] = []
    original = SQLiteReadStore._rows

    async def counted(self: SQLiteReadStore, sql: str, params: Any) -> Any:
        statements.append(sql)
        return await original(self, sql, params)

    monkeypatch.setattr(SQLiteReadStore, "_rows", counted)
    query = "{ jobs(first: 100) { totalCount edges { node { id cost { amount } tokens { input } history { toStatus at } result { __typename } config } } } }"
    found = post(client, query).json()["data"]["jobs"]
    assert len(found["edges"]) == 30
    assert all(e["node"]["history"] for e in found["edges"])
    # the position, the page, the count, every history: not one query per job
    assert len(statements) <= 4, statements
    statements.clear()
    query = "{ jobs(first: 100) { edges { node { id subject tasks { worker } verdict { score } steps { step } } } } }"
    found = post(client, query).json()["data"]["jobs"]
    assert len(found["edges"]) == 30
    assert all(e["node"]["tasks"] is None and e["node"]["steps"] == [] for e in found["edges"])
    # the position, the page, every job's tasks, verdicts and steps: one statement each
    assert len(statements) <= 5, statements


def test_an_analyst_sees_only_the_jobs_they_created(api: Api, shared_job: str) -> None:
    colleague = api.as_role("analyst", "acme", "colleague@acme")
    assert post(colleague, f'{{ job(id: "{shared_job}") {{ id }} }}').json() == {
        "data": {"job": None}
    }
    listed = post(colleague, '{ jobs(filter: {createdBy: "analyst@acme"}) { totalCount } }').json()
    assert listed["data"]["jobs"]["totalCount"] == 0
    refused = post(colleague, f'mutation {{ cancelJob(id: "{shared_job}") {{ id }} }}').json()
    assert refused["errors"][0]["extensions"]["code"] == "job_not_found"


def test_a_query_may_come_by_get_but_a_mutation_may_not(api: Api, analyst: httpx.Client) -> None:
    read = analyst.get("/graphql", params={"query": "{ me { subject } }"})
    assert read.json() == {"data": {"me": {"subject": "analyst@acme"}}}
    end = api.ledger.recorder.max_notification_id()
    write = analyst.get(
        "/graphql", params={"query": "mutation { submitJob(input: {type: GRAPH_ANALYSIS}) { id } }"}
    )
    assert write.status_code == 400  # Strawberry: "mutations are not allowed when using GET"
    assert api.ledger.recorder.max_notification_id() == end


def test_a_costly_query_is_refused_quickly_with_its_cost_and_the_limit(
    analyst: httpx.Client,
) -> None:
    page = "jobs(first: 500) { edges { node { id history { actor at reason trigger event } } } }"
    hostile = "{ " + " ".join(f"a{i}: {page}" for i in range(12)) + " }"
    started = time.monotonic()
    body = post(analyst, hostile).json()
    assert time.monotonic() - started < 2.0
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "query_too_costly"
    assert error["extensions"]["cost"] == 12 * (2 + 500 * 53)
    assert error["extensions"]["limit"] == 25_000
    assert "over the limit of 25,000" in error["message"]
    cheap = post(analyst, "{ jobs(first: 500) { edges { node { id status } } } }").json()
    assert "errors" not in cheap
