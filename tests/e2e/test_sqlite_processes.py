"""Several processes over one SQLite file: API processes that only append and read,
one projector, and ``serve --processes N`` that runs them together (on both stores).

Real processes, a real file: two ``serve --no-projections`` and one ``project``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_for
from jobledger.domain.events import JobClaimed, JobSubmitted
from tests.conftest import STORES, fresh_store
from tests.e2e.test_cli import JOBLEDGER, jobledger
from tests.e2e.test_scale_out import Fleet, caught_up, rebuilt, tables
from tests.e2e.test_serve import wait_until_serving


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    crew = Fleet(Settings(db=f"sqlite:///{tmp_path / 'ledger.db'}"), tmp_path)
    try:
        yield crew
    finally:
        crew.stop_all()


def topics(settings: Settings, kind: type) -> list[str]:
    """The job of every event of ``kind`` in the log, in log order."""
    ledger = build_ledger(settings)
    try:
        return [
            str(n.originator_id)
            for n in ledger.recorder.select_notifications(start=None, limit=100_000)
            if n.topic.endswith(kind.__qualname__)
        ]
    finally:
        ledger.close()


def clients(fleet: Fleet, role: str, sub: str) -> list[httpx.Client]:
    fleet.start("project")
    headers = {"Authorization": f"Bearer {fleet.token(role, sub)}"}
    return [httpx.Client(base_url=fleet.api(), headers=headers, timeout=30) for _ in range(2)]


def test_jobs_submitted_through_either_process_are_visible_through_both(fleet: Fleet) -> None:
    a, b = clients(fleet, "analyst", "ana@acme")

    def submit(n: int) -> str:
        key = {"Idempotency-Key": f"k-{n}"}
        first, other = (a, b) if n % 2 else (b, a)
        answer = first.post("/v1/jobs", json={"type": "graph_analysis"}, headers=key)
        assert answer.status_code == 202, answer.text
        again = other.post("/v1/jobs", json={"type": "graph_analysis"}, headers=key)
        assert again.json()["id"] == answer.json()["id"]  # a retry through the other process
        return str(answer.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        acknowledged = set(pool.map(submit, range(60)))
    assert len(acknowledged) == 60
    assert sorted(topics(fleet.settings, JobSubmitted)) == sorted(acknowledged)
    for client in (a, b):
        caught_up(client)
        listed = client.get("/v1/jobs", params={"limit": 100}).json()["items"]
        assert {job["id"] for job in listed} == acknowledged
    fleet.stop_all()
    assert tables(fleet.settings) == rebuilt(fleet.settings)  # projected exactly once


def test_a_long_poll_on_one_process_wakes_when_the_other_finishes_the_job(fleet: Fleet) -> None:
    a, b = clients(fleet, "analyst", "ana@acme")
    job = b.post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"]
    caught_up(a)
    answers: list[tuple[float, dict[str, Any]]] = []

    def wait() -> None:
        answer = a.get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 20})
        answers.append((time.monotonic(), answer.json()))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    cancelled_at = time.monotonic()
    assert b.post(f"/v1/jobs/{job}/cancel").json()["status"] == "cancelled"
    waiter.join(timeout=30)
    woke_at, envelope = answers[0]
    assert envelope["status"] == "cancelled"
    assert woke_at - cancelled_at < 1.0, f"woke after {woke_at - cancelled_at:.2f} s"


def test_claims_through_both_processes_never_hand_one_job_to_two_workers(fleet: Fleet) -> None:
    workers = clients(fleet, "worker", "w@acme")
    analyst = {"Authorization": f"Bearer {fleet.token('analyst', 'ana@acme')}"}
    submitted = {
        workers[n % 2]
        .post("/v1/jobs", json={"type": "graph_analysis"}, headers=analyst)
        .json()["id"]
        for n in range(80)
    }
    caught_up(workers[0])

    def work(n: int) -> list[str]:
        client, taken = workers[n % 2], list[str]()
        while True:
            claimed = client.post("/v1/claims", json={"agent": f"w-{n}", "leaseSeconds": 300})
            if claimed.status_code == 204:
                return taken
            assert claimed.status_code == 200, claimed.text
            taken.append(claimed.json()["jobId"])

    with ThreadPoolExecutor(12) as pool:
        handed = [job for taken in pool.map(work, range(12)) for job in taken]
    assert Counter(handed).most_common(1)[0][1] == 1, "a job was handed to two workers"
    assert set(handed) == submitted
    assert Counter(topics(fleet.settings, JobClaimed)) == Counter(submitted)  # once each
    fleet.stop_all()
    verified = jobledger("audit", "verify", db=fleet.settings.db)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("kind", STORES)
def test_serve_processes_runs_them_on_one_port_and_sigterm_stops_them_all(
    tmp_path: Path, kind: str
) -> None:
    with fresh_store(kind) as settings:
        env = {
            **os.environ,
            "JOBLEDGER_DB": settings.db,
            "JOBLEDGER_PG_SCHEMA": settings.pg_schema,
            "JOBLEDGER_STATE_DIR": str(tmp_path),
        }
        run_processes(tmp_path, env)


@contextlib.contextmanager
def supervised(
    env: dict[str, str], cwd: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, str, list[int]]]:
    """``serve --processes 2`` on a free port, serving: the supervisor, its URL, what it
    said of itself, and its children (two API processes and the projector). Whatever is
    still alive afterwards is killed."""
    serve = subprocess.Popen(
        [JOBLEDGER, "serve", "--processes", "2", "--port", "0"],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        assert serve.stderr is not None
        said = ""
        for _ in range(5):  # a warning may come first
            said += serve.stderr.readline()
            found = re.search(r"http://127\.0\.0\.1:(\d+)", said)
            if found:
                break
        assert found, said
        url = f"http://127.0.0.1:{found[1]}"
        wait_until_serving(url, serve)
        children.extend(_children(serve.pid))
        assert len(children) == 3  # two API processes and the projector
        yield serve, url, said, children
    finally:
        for pid in [serve.pid, *children]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        serve.communicate()


def run_processes(tmp_path: Path, env: dict[str, str]) -> None:
    """``serve --processes 2``: it answers on one port, and SIGTERM stops every child."""
    with supervised(env, cwd=tmp_path) as (serve, url, said, children):
        assert "with 2 API processes and a projector" in said, said
        token = jobledger("token", "--tenant", "acme", "--role", "analyst", **env)
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            job = client.post("/v1/jobs", json={"type": "graph_analysis"}).json()["id"]
            polled = client.get(f"/v1/jobs/{job}", params={"wait": "true", "timeout": 0.01})
            caught_up(client)
            assert client.get(f"/v1/jobs/{job}").status_code == 200, polled.text
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        assert not [pid for pid in children if _alive(pid)], "a child outlived its supervisor"


def test_when_one_child_dies_serve_processes_stops_the_others_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "JOBLEDGER_DB": f"sqlite:///{tmp_path / 'ledger.db'}"}
    with supervised(env) as (serve, _, _, children):
        os.kill(children[-1], signal.SIGKILL)  # the projector, started last
        assert serve.wait(timeout=30) != 0  # for its own supervisor to restart the lot
        assert not [pid for pid in children if _alive(pid)], "a child outlived its supervisor"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_when_the_supervisor_is_killed_its_children_stop_too(tmp_path: Path) -> None:
    env = {**os.environ, "JOBLEDGER_DB": f"sqlite:///{tmp_path / 'ledger.db'}"}
    with supervised(env) as (serve, _, _, children):
        serve.kill()  # SIGKILL: the supervisor passes nothing on
        serve.wait(timeout=10)
        deadline = time.monotonic() + 30
        while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "a child outlived its supervisor"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["--processes", "0"], "greater than or equal to 1"),
        (["--processes", "17"], "less than or equal to 16"),
        (["--processes", "two"], "'--processes'"),
        (["--processes", "2", "--demo"], "--demo runs in one process"),
    ],
)
def test_a_bad_number_of_processes_is_refused_with_exit_code_2(
    tmp_path: Path, given: list[str], says: str
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    refused = jobledger("serve", *given, db=db)
    assert refused.returncode == 2
    assert "--processes" in refused.stderr
    assert says in " ".join(refused.stderr.split())
    assert not (tmp_path / "ledger.db").exists()  # nothing was started


def test_a_port_in_use_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        db = f"sqlite:///{tmp_path / 'ledger.db'}"
        refused = jobledger("serve", "--processes", "2", "--port", str(port), db=db)
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert f"cannot listen on 127.0.0.1:{port}" in said
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "ledger.db").exists()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_sweeper_in_another_process_holds_the_lock_until_it_dies(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    lock = backend_for(Settings(db=f"sqlite:///{db}")).sweep_lock()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from jobledger.adapters.settings import Settings\n"
            "from jobledger.adapters.store import backend_for\n"
            f"lock = backend_for(Settings(db='sqlite:///{db}')).sweep_lock()\n"
            "assert lock.held()\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        assert not lock.held()  # the other process sweeps
        holder.kill()  # SIGKILL: no chance to let go
        holder.wait()
        assert lock.held()  # the kernel dropped its lock with it
    finally:
        holder.kill()
        holder.communicate()
        lock.release()
