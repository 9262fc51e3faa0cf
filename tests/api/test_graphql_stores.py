"""The GraphQL reads that run store-specific SQL (the batched histories, the count, the
turned cursors of backward paging), on each store."""

from __future__ import annotations

from uuid import uuid4

from tests.api.conftest import Api

PAGE = "query ($before: String) { jobs(last: 2, before: $before) { totalCount edges { node { id history { toStatus } } } pageInfo { hasPreviousPage startCursor } } }"


def test_paging_backwards_with_histories_and_a_count(api: Api) -> None:
    client = api.as_role("analyst", f"t{uuid4().hex[:8]}")
    submitted = [
        client.post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"] for _ in range(5)
    ]
    client.post(f"/v1/jobs/{submitted[0]}/cancel", json={"reason": "r"})
    api.wait_for_read_models()
    found: list[dict[str, object]] = []
    before = None
    while True:
        page = client.post("/graphql", json={"query": PAGE, "variables": {"before": before}}).json()
        jobs = page["data"]["jobs"]
        assert jobs["totalCount"] == 5
        found = [edge["node"] for edge in jobs["edges"]] + found
        if not jobs["pageInfo"]["hasPreviousPage"]:
            break
        before = jobs["pageInfo"]["startCursor"]
    assert [job["id"] for job in found] == submitted[::-1]
    assert found[-1]["history"] == [{"toStatus": "QUEUED"}, {"toStatus": "CANCELLED"}]
