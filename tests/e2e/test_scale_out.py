"""PostgreSQL scale-out: API processes that only append and read, one projection process.

Real processes throughout: two ``serve --no-projections`` and one ``project``
against one schema. (PostgreSQL only: skipped, or failed in CI, without it.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings
from jobledger.domain.events import JobSubmitted
from jobledger.projections.schema import ALL_TABLES
from tests.benchmarks.bench_projections import write_log
from tests.conftest import postgres_schema, select
from tests.e2e.test_cli import JOBLEDGER
from tests.e2e.test_serve import free_port, wait_until_serving


class Fleet:
    """Processes of one ledger, started in one folder (where the development key lives)."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.env = {
            **os.environ,
            "JOBLEDGER_DB": settings.db,
            "JOBLEDGER_PG_SCHEMA": settings.pg_schema,
        }
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [JOBLEDGER, *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def api(self) -> str:
        port = free_port()
        process = self.start("serve", "--no-projections", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        return url

    def token(self, role: str, sub: str) -> str:
        done = subprocess.run(
            [JOBLEDGER, "token", "--tenant", "acme", "--role", role, "--sub", sub],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with postgres_schema() as settings:
        crew = Fleet(settings, tmp_path)
        try:
            yield crew
        finally:
            crew.stop_all()


def tables(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    ledger = build_ledger(settings)
    try:
        return {
            t.name: sorted(tuple(r.values()) for r in select(ledger, f"SELECT * FROM {t.name}"))
            for t in ALL_TABLES
        }
    finally:
        ledger.close()


def rebuilt(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    ledger = build_ledger(settings)
    try:
        runner = build_runner(ledger)
        for name in list(runner.projections):
            runner.rebuild(name)
    finally:
        ledger.close()
    return tables(settings)


def caught_up(client: httpx.Client, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (ready := client.get("/readyz").json())["lag"] != 0:
        assert time.monotonic() < deadline, ready
        time.sleep(0.1)


def test_two_api_processes_and_one_projector_share_one_ledger(fleet: Fleet) -> None:
    fleet.start("project")
    urls = [fleet.api(), fleet.api()]
    token = fleet.token("analyst", "ana@acme")
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=url, headers=headers, timeout=30) for url in urls]

    def submit(n: int) -> str:
        key = {"Idempotency-Key": f"k-{n}"}
        client = clients[n % 2]
        answer = client.post("/v1/jobs", json={"type": "graph_analysis"}, headers=key)
        assert answer.status_code == 202, answer.text
        again = clients[(n + 1) % 2].post("/v1/jobs", json={"type": "graph_analysis"}, headers=key)
        assert again.json()["id"] == answer.json()["id"]  # a retry through the other process
        return str(answer.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        acknowledged = list(pool.map(submit, range(80)))

    ledger = build_ledger(fleet.settings)
    try:
        submitted = [
            str(n.originator_id)
            for n in ledger.recorder.select_notifications(start=None, limit=10_000)
            if n.topic.endswith(JobSubmitted.__qualname__)
        ]
    finally:
        ledger.close()
    assert sorted(submitted) == sorted(acknowledged)
    assert len(set(acknowledged)) == 80

    # A long poll on process A wakes when the job is cancelled through process B.
    job = clients[0].post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"]
    caught_up(clients[0])
    answers: list[tuple[float, dict[str, Any]]] = []

    def wait() -> None:
        answer = clients[0].get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 30})
        answers.append((time.monotonic(), answer.json()))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    cancelled_at = time.monotonic()
    assert clients[1].post(f"/v1/jobs/{job}/cancel").json()["status"] == "cancelled"
    waiter.join(timeout=30)
    woke_at, envelope = answers[0]
    assert envelope["status"] == "cancelled"
    assert woke_at - cancelled_at < 2.0

    caught_up(clients[1])
    fleet.stop_all()
    assert tables(fleet.settings) == rebuilt(fleet.settings)


def test_a_projector_killed_mid_catch_up_resumes_without_losing_or_repeating(
    fleet: Fleet,
) -> None:
    ledger = build_ledger(fleet.settings)
    try:
        write_log(ledger, 20_000)
        end = ledger.recorder.max_notification_id() or 0
        runner = build_runner(ledger)  # only to read positions
        first = fleet.start("project")
        deadline = time.monotonic() + 60
        while min(runner.positions().values()) < 2_000:
            assert time.monotonic() < deadline, "the projector did not start"
            time.sleep(0.02)
        first.kill()  # SIGKILL: no chance to tidy up
        first.communicate()
        stopped_at = min(runner.positions().values())
        assert stopped_at < end, "the catch-up finished before the kill: use a longer log"
        fleet.start("project")
        while min(runner.positions().values()) < end:
            assert time.monotonic() < deadline, "the restarted projector did not catch up"
            time.sleep(0.1)
    finally:
        ledger.close()
    fleet.stop_all()
    assert tables(fleet.settings) == rebuilt(fleet.settings)
