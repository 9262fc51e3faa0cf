"""Crash safety: ``jobledger serve`` killed with SIGKILL under load, then started again.

Analysts submit with idempotency keys and workers drive jobs with command ids; every
request the kill cuts off is sent again, unchanged, until it is answered. Whatever
was acknowledged must be in the ledger exactly once, the read models must equal a
rebuild from the events, and the same clients must carry on against the new process.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.cli.samples import sample_result
from jobledger.adapters.settings import Settings
from jobledger.domain.events import (
    JobClaimed,
    JobCompleted,
    JobEvent,
    JobStarted,
    JobSubmitted,
    ProgressReported,
    UsageRecorded,
)
from jobledger.domain.results import JobType
from tests.e2e.test_scale_out import Fleet, caught_up, rebuilt, tables
from tests.e2e.test_serve import free_port

ANALYSTS = 4
WORKERS = 2
RECORDS: dict[str, type[JobEvent]] = {
    "claim": JobClaimed,
    "start": JobStarted,
    "progress": ProgressReported,
    "usage": UsageRecorded,
    "complete": JobCompleted,
}


class Abandoned(Exception):
    """The test gave up on the load (it failed elsewhere): stop retrying."""


@dataclass(frozen=True)
class Ack:
    """A command the server answered with success."""

    client: str
    action: str  # "submit", or a worker action of RECORDS
    key: str  # the Idempotency-Key or commandId
    job_id: str
    version: int
    lease_id: str | None
    replayed: bool
    at: float


class Load:
    """Clients that send each command again, unchanged, until it is answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acks: list[Ack] = []
        self.resent = 0  # requests cut off (no answer, or a 5xx) and sent again
        self.stop = threading.Event()  # finish the job in hand, then return
        self.abandon = threading.Event()  # return now
        self._lock = threading.Lock()

    def client(self, token: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def send(
        self,
        client: httpx.Client,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        while True:
            try:
                answer = client.post(path, json=body, headers=headers)
                if answer.status_code < 500:
                    return answer
            except httpx.TransportError:
                pass
            with self._lock:
                self.resent += 1
            if self.abandon.is_set():
                raise Abandoned
            time.sleep(0.05)

    def record(self, client: str, action: str, key: str, answer: httpx.Response) -> None:
        data = answer.json()
        ack = Ack(
            client,
            action,
            key,
            str(data.get("jobId", data.get("id"))),
            data["version"],
            data.get("leaseId"),
            answer.headers.get("Idempotent-Replayed") == "true",
            time.monotonic(),
        )
        with self._lock:
            self.acks.append(ack)

    def analyst(self, name: str, token: str) -> None:
        with self.client(token) as client:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                key = f"{name}-{n}"
                body = {"type": "graph_analysis", "metadata": {"key": key}}
                answer = self.send(client, "/v1/jobs", body, {"Idempotency-Key": key})
                assert answer.status_code == 202, answer.text
                self.record(name, "submit", key, answer)

    def worker(self, name: str, token: str) -> None:
        rng = random.Random(name)
        with self.client(token) as client:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                # A claim the kill cut off is sent again with its command id, and gets
                # the same job and lease back: no job is left claimed by nobody.
                key = f"{name}-claim-{n}"
                claim = {"agent": name, "leaseSeconds": 300, "waitSeconds": 1, "commandId": key}
                claimed = self.send(client, "/v1/claims", claim)
                if claimed.status_code == 204:
                    continue
                assert claimed.status_code == 200, claimed.text
                self.record(name, "claim", key, claimed)
                job = claimed.json()
                steps: list[tuple[str, dict[str, Any]]] = [
                    ("start", {}),
                    ("progress", {"percent": 50}),
                    ("usage", {"model": "gpt-4o-mini", "inputTokens": 900, "outputTokens": 80}),
                    ("complete", {"result": sample_result(JobType(job["type"]), rng)}),
                ]
                for action, extra in steps:
                    command = f"{job['jobId']}:{action}"
                    body = {"leaseId": job["leaseId"], "commandId": command, **extra}
                    answer = self.send(client, f"/v1/jobs/{job['jobId']}/{action}", body)
                    assert answer.status_code == 200, f"{action}: {answer.text}"
                    self.record(name, action, command, answer)

    def count(self, action: str, since: float = 0.0) -> Counter[str]:
        """Acknowledgements of ``action`` since a moment, by client."""
        with self._lock:
            return Counter(a.client for a in self.acks if a.action == action and a.at > since)

    def wait_until(
        self,
        enough: Callable[[], bool],
        server: subprocess.Popen[str],
        clients: list[Future[None]],
        what: str,
        timeout: float = 30,
    ) -> None:
        """Until ``enough()``, failing as soon as the server or a client stops."""
        deadline = time.monotonic() + timeout
        while not enough():
            for running in clients:
                if running.done():
                    running.result()  # a client's failure, raised here
                    raise AssertionError("a client stopped before it was told to")
            assert server.poll() is None, f"serve exited: {server.communicate()[1]}"
            assert time.monotonic() < deadline, (
                f"{what}: not within {timeout} s; acknowledged so far: "
                f"{Counter(a.action for a in self.acks)}, requests sent again: {self.resent}"
            )
            time.sleep(0.05)


@pytest.fixture
def fleet(db_url: str, tmp_path: Path) -> Iterator[Fleet]:
    crew = Fleet(Settings.load(db=db_url), tmp_path)
    try:
        yield crew
    finally:
        crew.stop_all()


def recorded_events(settings: Settings) -> list[JobEvent]:
    ledger = build_ledger(settings)
    try:
        notifications = ledger.recorder.select_notifications(start=None, limit=1_000_000)
        events = [ledger.mapper.to_domain_event(n) for n in notifications]
    finally:
        ledger.close()
    return [e for e in events if isinstance(e, JobEvent)]


def assert_each_submit_recorded_once(acks: list[Ack], events: list[JobEvent]) -> None:
    submitted = [e for e in events if isinstance(e, JobSubmitted)]
    job_of_key = {e.metadata["key"]: str(e.originator_id) for e in submitted}
    lost = [a.key for a in acks if a.action == "submit" and job_of_key.get(a.key) != a.job_id]
    assert lost == [], f"acknowledged submits not in the ledger as answered: {lost}"
    keys = Counter(e.metadata["key"] for e in submitted)
    assert [k for k, n in keys.items() if n > 1] == [], "a key submitted more than one job"


def assert_each_worker_command_recorded_once(acks: list[Ack], events: list[JobEvent]) -> None:
    recorded = Counter((str(e.originator_id), type(e)) for e in events)
    twice = [(job, kind.__name__) for (job, kind), n in recorded.items() if n > 1]
    assert twice == [], f"events recorded more than once: {twice}"
    found = {(str(e.originator_id), type(e)): e for e in events}
    steps = [a for a in acks if a.action in RECORDS]
    missing = [a for a in steps if (a.job_id, RECORDS[a.action]) not in found]
    assert missing == [], f"acknowledged worker commands not in the ledger: {missing}"
    stale = [
        a for a in steps if found[(a.job_id, RECORDS[a.action])].originator_version != a.version
    ]
    assert stale == [], f"answers at another version than the recorded event: {stale}"
    leases = {job: e.lease_id for (job, _), e in found.items() if isinstance(e, JobClaimed)}
    foreign = [a for a in acks if a.action == "claim" and leases[a.job_id] != a.lease_id]
    assert foreign == [], f"claims answered with a lease the ledger does not hold: {foreign}"
    known = {(a.job_id, a.lease_id) for a in acks if a.action == "claim"}
    stranded = [job for job, lease in leases.items() if (job, lease) not in known]
    assert stranded == [], f"jobs claimed for nobody (a claim's answer was lost): {stranded}"
    completed = {job for job, kind in recorded if kind is JobCompleted}
    assert completed == {a.job_id for a in steps if a.action == "complete"}


def test_serve_killed_under_load_keeps_each_acknowledged_command_once(fleet: Fleet) -> None:
    port = free_port()
    first = fleet.start("serve", "--port", str(port))
    load = Load(f"http://127.0.0.1:{port}")
    analyst, worker = fleet.token("analyst", "ana@acme"), fleet.token("worker", "bot@acme")

    with ThreadPoolExecutor(ANALYSTS + WORKERS) as pool:
        clients = [pool.submit(load.analyst, f"analyst-{i}", analyst) for i in range(ANALYSTS)]
        clients += [pool.submit(load.worker, f"worker-{i}", worker) for i in range(WORKERS)]
        try:
            load.wait_until(
                lambda: load.count("submit").total() >= 40 and load.count("complete").total() >= 4,
                first,
                clients,
                "load before the kill",
            )
            first.kill()  # SIGKILL: requests in flight are cut off mid-way
            first.communicate()
            killed_at = time.monotonic()
            second = fleet.start("serve", "--port", str(port))

            def everyone_carried_on() -> bool:
                submitted = load.count("submit", since=killed_at)
                completed = load.count("complete", since=killed_at)
                return all(submitted[f"analyst-{i}"] >= 5 for i in range(ANALYSTS)) and all(
                    completed[f"worker-{i}"] >= 2 for i in range(WORKERS)
                )

            load.wait_until(everyone_carried_on, second, clients, "every client after the restart")
        except BaseException:
            load.abandon.set()
            raise
        finally:
            load.stop.set()
        for running in clients:
            running.result()

    with load.client(fleet.token("viewer", "vic@acme")) as viewer:
        caught_up(viewer)
    fleet.stop_all()
    assert second.returncode in (0, 130), "the restarted serve did not stop cleanly"
    assert load.resent > 0, "no client saw the kill: the test proved nothing"

    events = recorded_events(fleet.settings)
    assert_each_submit_recorded_once(load.acks, events)
    assert_each_worker_command_recorded_once(load.acks, events)
    assert tables(fleet.settings) == rebuilt(fleet.settings)
