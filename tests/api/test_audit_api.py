"""Auditors over HTTP: checkpoints, consistency and inclusion proofs that check with
nothing but the ledger's public key, and the hashes beside each stored event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from jobledger.adapters.audit.signing import ledger_key, signed_by
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.merkle import verify_consistency, verify_inclusion
from tests.api.conftest import Api, run_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """SQLite only: the store-specific parts are tested in tests/integration."""
    yield from run_api(Path(tmp_path_factory.mktemp("audit-api")))


def checkpoint(document: dict[str, object]) -> Checkpoint:
    return Checkpoint(
        int(document["treeSize"]),  # type: ignore[call-overload]
        bytes.fromhex(str(document["root"])),
        datetime.fromisoformat(str(document["takenAt"])),
        str(document["keyId"]),
        bytes.fromhex(str(document["signature"])),
    )


def submit(api: Api, tenant: str = "acme") -> str:
    answer = api.as_role("analyst", tenant).post("/v1/jobs", json={"type": "graph_analysis"})
    assert answer.status_code == 202
    return str(answer.json()["id"])


def test_a_jobs_events_are_proved_in_a_signed_checkpoint(api: Api) -> None:
    job = submit(api)
    api.as_role("analyst").post(f"/v1/jobs/{job}/cancel")
    submit(api, "globex")
    auditor = api.as_role("auditor")
    answer = auditor.get(f"/v1/jobs/{job}/proof")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    head = checkpoint(body["checkpoint"])
    assert signed_by(head, ledger_key(api.settings).public_key())
    assert [i["version"] for i in body["items"]] == [1, 2]
    for item in body["items"]:
        proof = [bytes.fromhex(p) for p in item["proof"]]
        leaf = bytes.fromhex(item["leaf"])
        assert verify_inclusion(item["leafIndex"], head.tree_size, leaf, proof, head.root)
    events = auditor.get(f"/v1/jobs/{job}/events").json()["items"]
    assert [e["leaf"] for e in events] == [i["leaf"] for i in body["items"]]
    assert events[1]["previous"] == events[0]["leaf"]


def test_a_later_checkpoint_is_proved_to_extend_an_earlier_one(api: Api) -> None:
    auditor = api.as_role("admin")
    submit(api)
    first = checkpoint(auditor.post("/v1/audit/checkpoints").json())
    submit(api, "globex")
    second = checkpoint(auditor.post("/v1/audit/checkpoints").json())
    assert auditor.get("/v1/audit/checkpoints").json()["treeSize"] == second.tree_size
    kept = auditor.get("/v1/audit/checkpoints", params={"size": first.tree_size}).json()
    assert checkpoint(kept) == first
    answer = auditor.get(
        "/v1/audit/consistency", params={"from": first.tree_size, "to": second.tree_size}
    )
    assert answer.status_code == 200, answer.text
    proof = [bytes.fromhex(p) for p in answer.json()["proof"]]
    assert verify_consistency(first.tree_size, second.tree_size, first.root, second.root, proof)
    assert not verify_consistency(
        first.tree_size, second.tree_size, second.root, second.root, proof
    )


def test_bad_sizes_are_clear_problems(api: Api) -> None:
    auditor = api.as_role("auditor")
    missing = auditor.get("/v1/audit/checkpoints", params={"size": 10**9})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    beyond = auditor.get("/v1/audit/consistency", params={"from": 0, "to": 10**9})
    assert beyond.status_code == 422
    assert "from, to" in beyond.json()["detail"]


def test_another_tenants_auditor_cannot_prove_a_job(api: Api) -> None:
    job = submit(api)
    answer = api.as_role("auditor", "globex").get(f"/v1/jobs/{job}/proof")
    assert answer.status_code == 404
