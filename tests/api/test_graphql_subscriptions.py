"""Subscriptions over graphql-transport-ws on a real server: a client watches a job move
through its lifecycle while a worker acts over REST, and resumes after a position."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.api.conftest import Api

pytestmark = pytest.mark.rules
PROTOCOL = "graphql-transport-ws"
WATCH = "subscription ($id: UUID!, $after: Int) { jobUpdated(id: $id, after: $after) { position event job { status version } } }"


@contextlib.contextmanager
def opened(api: Api, token: str) -> Iterator[ClientConnection]:
    """A socket past ``connection_init``, the token in its payload (as browsers must)."""
    url = api.url.replace("http", "ws") + "/graphql"
    with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        socket.send(json.dumps(init))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        yield socket


def changes(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    found = []
    while len(found) < count:
        message = json.loads(socket.recv(timeout=10))
        assert message["type"] == "next", message
        found.append(message["payload"]["data"]["jobUpdated"])
    return found


def test_a_client_sees_a_job_move_through_its_lifecycle_and_can_resume(api: Api) -> None:
    analyst = api.as_role("analyst")
    worker = api.as_role("worker")
    job = analyst.post("/v1/jobs", json={"type": "threat_modelling"}).json()["id"]
    api.wait_for_read_models()
    with opened(api, api.token("analyst")) as socket:
        socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": WATCH, "variables": {"id": job}},
                }
            )
        )
        first = changes(socket, 1)[0]
        assert (first["event"], first["job"]["status"]) == ("Snapshot", "QUEUED")
        claim = worker.post("/v1/claims", json={"agent": "a", "types": ["threat_modelling"]}).json()
        lease = claim["leaseId"]
        for action in ("start", "complete"):
            body = {"leaseId": lease, "commandId": uuid4().hex}
            if action == "complete":
                body["result"] = {}
            assert worker.post(f"/v1/jobs/{job}/{action}", json=body).status_code == 200
        seen = changes(socket, 3)
    assert [c["job"]["status"] for c in seen] == ["CLAIMED", "RUNNING", "COMPLETED"]
    assert [c["event"] for c in seen] == ["JobClaimed", "JobStarted", "JobCompleted"]
    with opened(api, api.token("viewer")) as again:
        after = seen[0]["position"]
        variables = {"id": job, "after": after}
        again.send(
            json.dumps(
                {
                    "id": "2",
                    "type": "subscribe",
                    "payload": {"query": WATCH, "variables": variables},
                }
            )
        )
        resumed = changes(again, 2)
    assert resumed == seen[1:]


def test_a_socket_without_a_good_token_is_closed(api: Api) -> None:
    url = api.url.replace("http", "ws") + "/graphql"
    with connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": "Bearer forged"}}
        socket.send(json.dumps(init))
        with pytest.raises(Exception, match="4403"):
            socket.recv(timeout=10)


def test_jobs_updated_sends_only_the_changes_its_filter_matches(api: Api) -> None:
    tenant = f"t{uuid4().hex[:8]}"
    analyst = api.as_role("analyst", tenant)
    watch = "subscription ($after: Int) { jobsUpdated(filter: {type: PATTERN_RECOGNITION}, after: $after) { event job { id type } } }"
    with opened(api, api.token("viewer", tenant)) as socket:
        api.wait_for_read_models()
        start = {"after": api.services.feed.position}  # from here, however late it starts
        payload = {"query": watch, "variables": start}
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        other = analyst.post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"]
        wanted = analyst.post("/v1/jobs", json={"type": "pattern_recognition"}).json()["id"]
        analyst.post(f"/v1/jobs/{wanted}/cancel", json={"reason": "r"})
        message = json.loads(socket.recv(timeout=10))
        first = message["payload"]["data"]["jobsUpdated"]
        second = json.loads(socket.recv(timeout=10))["payload"]["data"]["jobsUpdated"]
    assert (first["event"], first["job"]["id"]) == ("JobSubmitted", wanted)
    assert (second["event"], second["job"]["id"]) == ("JobCancelled", wanted)
    assert other not in (first["job"]["id"], second["job"]["id"])
