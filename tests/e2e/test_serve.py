"""``jobledger serve`` as an operator runs it: a real process, real tokens, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from tests.api.lifecycle import run_to_end
from tests.e2e.test_cli import JOBLEDGER, jobledger


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    """Until ``serve`` answers ``/healthz``; fails with its stderr if it exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"serve did not answer in {seconds:.0f} s"
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running ``jobledger serve``: its URL and database URL."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    process = subprocess.Popen(
        [JOBLEDGER, "serve", "--port", str(port), "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url, process)
    try:
        yield url, db
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode in (0, 130), stderr  # 130: stopped by Ctrl-C, as a shell expects
    assert "Application shutdown complete" in stderr
    assert "Traceback" not in stderr


def token(db: str, tenant: str, role: str, sub: str) -> str:
    done = jobledger("token", "--tenant", tenant, "--role", role, "--sub", sub, db=db)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_serve_submits_lists_waits_and_cancels_over_http(server: tuple[str, str]) -> None:
    url, db = server
    analyst = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token(db, 'acme', 'analyst', 'ana')}"}
    )
    viewer = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token(db, 'acme', 'viewer', 'vic')}"}
    )
    first = analyst.post("/v1/jobs", json={"type": "entity_extraction", "investigationId": "I-1"})
    second = analyst.post("/v1/jobs", json={"type": "graph_analysis"})
    assert first.status_code == second.status_code == 202
    job, other = first.json()["id"], second.json()["id"]

    # A worker's service moves the job along through the ledger (no worker API yet).
    ledger = build_ledger(Settings(db=db))
    try:
        run_to_end(ledger, job)
    finally:
        ledger.close()
    waited = viewer.get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 20})
    assert waited.json()["status"] == "completed"
    assert waited.json()["result"]["type"] == "entity_extraction"

    listed = viewer.get("/v1/jobs", params={"status": "queued"}).json()
    assert [j["id"] for j in listed["items"]] == [other]
    cancelled = analyst.post(f"/v1/jobs/{other}/cancel", json={"reason": "duplicate"})
    assert cancelled.json()["status"] == "cancelled"
    assert viewer.get("/readyz").json()["status"] == "ok"
    metrics = viewer.get("/metrics").text
    assert 'jobledger_jobs{status="cancelled",tenant="acme"} 1.0' in metrics
    assert UUID(job)


def test_token_prints_only_a_token_and_refuses_unknown_roles(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    minted = jobledger("token", "--tenant", "acme", "--role", "viewer", db=db)
    assert minted.returncode == 0
    assert minted.stdout.count(".") == 2
    assert minted.stdout.strip() == minted.stdout.rstrip("\n")
    assert (tmp_path / "l.db.signing-key.pem").stat().st_mode & 0o077 == 0
    refused = jobledger("token", "--tenant", "acme", "--role", "superuser", db=db)
    assert refused.returncode == 2
    assert "superuser" in refused.stderr
    assert "Traceback" not in refused.stderr
    bad_ttl = jobledger("token", "--tenant", "acme", "--role", "viewer", "--ttl", "forever", db=db)
    assert bad_ttl.returncode == 2
    assert "ttl" in bad_ttl.stderr
