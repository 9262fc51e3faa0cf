"""PostgreSQL restarts, or the network drops every connection: the API carries on after.

The server is reached through a TCP proxy that the test can cut, so the shared
PostgreSQL server is never restarted. A cut closes every proxied connection at once
and, for a moment, closes each new one as soon as it is made (the server is down),
as a restart does. (PostgreSQL only: skipped, or failed in CI, without it.)
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from eventsourcing.persistence import OperationalError

from jobledger.adapters.bootstrap import build_ledger, build_runner, subscribe
from jobledger.adapters.settings import Settings
from jobledger.projections.runner import BatchSubscription
from tests.api.conftest import Api, serve
from tests.conftest import ANALYST, PG_URL, postgres_schema, require_postgres
from tests.e2e.test_scale_out import Fleet, rebuilt, tables

ANALYSTS = 3


class Proxy:
    """A TCP forwarder on 127.0.0.1 (any free port) to the PostgreSQL server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.cuts = 0
        self._open: set[socket.socket] = set()
        self._down = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self._down.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        self._close(src, dst)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked on it
            sock.close()
            with self._lock:
                self._open.discard(sock)

    def go_down(self) -> None:
        """Close every connection, and each new one at once, as a server that restarts."""
        self._down.set()
        with self._lock:
            cut = list(self._open)
        self.cuts += len(cut) // 2
        self._close(*cut)

    def come_back(self) -> None:
        self._down.clear()

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            left = list(self._open)
        self._close(*left)


@contextlib.contextmanager
def proxied_schema() -> Iterator[tuple[Settings, Settings, Proxy]]:
    """A fresh schema reached through a proxy (what the API uses) and directly (what the
    test checks with)."""
    require_postgres()
    server = urlsplit(PG_URL)
    proxy = Proxy((server.hostname or "127.0.0.1", server.port or 5432))
    try:
        with postgres_schema() as direct:
            netloc = f"{server.username or 'postgres'}@127.0.0.1:{proxy.port}"
            url = urlunsplit((server.scheme, netloc, server.path, "", ""))
            yield direct.model_copy(update={"db": url, "sweep_seconds": 0.2}), direct, proxy
    finally:
        proxy.close()


class Submitting:
    """Analysts that submit until told to stop, sending a submit that got no answer
    (or a 5xx) again with the same Idempotency-Key until it is answered."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.acknowledged: dict[str, str] = {}  # Idempotency-Key -> job id
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def analyst(self, name: str) -> None:
        client = self.api.as_role("analyst", sub=f"{name}@acme")
        deadline = time.monotonic() + 25
        for n in range(10_000):
            if self.stop.is_set():
                return
            key = f"{name}-{n}"
            while True:
                assert time.monotonic() < deadline, f"{key} was never answered"
                try:
                    answer = client.post(
                        "/v1/jobs",
                        json={"type": "graph_analysis"},
                        headers={"Idempotency-Key": key},
                        timeout=5,
                    )
                    if answer.status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            assert answer.status_code == 202, answer.text
            with self._lock:
                self.acknowledged[key] = str(answer.json()["id"])

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def wait_until(what: str, enough: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not enough():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def ready(client: httpx.Client) -> bool:
    try:
        answer = client.get("/readyz", timeout=5)
    except httpx.TransportError:
        return False
    return answer.status_code == 200 and answer.json()["lag"] == 0


def unready(client: httpx.Client) -> bool:
    answer = client.get("/readyz", timeout=10)
    if answer.status_code != 503:
        return False
    assert "127.0.0.1" not in answer.text, "an open probe must not name the store's host"
    return True


def test_the_api_projects_serves_and_sweeps_again_after_postgres_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobledger")
    with proxied_schema() as (settings, direct, proxy):
        with contextlib.contextmanager(serve)(settings) as api:
            viewer, worker = api.as_role("viewer"), api.as_role("worker")
            analyst = api.as_role("analyst", sub="ana@acme")
            load = Submitting(api)
            with ThreadPoolExecutor(ANALYSTS) as pool:
                running = [pool.submit(load.analyst, f"analyst-{i}") for i in range(ANALYSTS)]
                try:
                    wait_until("submits before the restart", lambda: load.count() >= 15)
                    proxy.go_down()
                    wait_until("/readyz reports the outage", lambda: unready(viewer), 5)
                    time.sleep(2.0)  # long enough for writes to wait, and some to fail
                    proxy.come_back()
                    after = load.count()
                    wait_until("writes resume", lambda: load.count() > after, timeout=3)
                    wait_until("submits after the restart", lambda: load.count() >= after + 15)
                    acknowledged = dict(load.acknowledged)
                    api.wait_for_read_models(timeout=15)
                    began = time.monotonic()
                    unreadable = [  # the first reads since the restart: none waits or fails
                        key
                        for key, job_id in acknowledged.items()
                        if viewer.get(f"/v1/jobs/{job_id}").status_code != 200
                    ]
                    read_for = time.monotonic() - began
                finally:
                    load.stop.set()
                for analyst_thread in running:
                    analyst_thread.result()
            assert proxy.cuts > 0, "no connection was cut: the test proved nothing"

            assert unreadable == [], f"acknowledged submits that cannot be read: {unreadable}"
            assert read_for < 5, f"reading them took {read_for:.1f} s"
            wait_until("/readyz ready again", lambda: ready(viewer))

            # A job submitted after the restart can be claimed, and the sweeper expires its lease.
            job = analyst.post("/v1/jobs", json={"type": "graph_analysis", "priority": 9}).json()
            claim = {"agent": "w-1", "leaseSeconds": 0.5, "waitSeconds": 5}  # highest first
            api.wait_for_read_models()  # claims pick from the job summaries
            claimed = worker.post("/v1/claims", json=claim)
            assert claimed.status_code == 200, claimed.text
            assert claimed.json()["jobId"] == job["id"]
            wait_until(
                "the sweeper expires a lease after the restart",
                lambda: viewer.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued",
            )

            # A long poll on a job submitted after the restart wakes when the job ends.
            with ThreadPoolExecutor(1) as pool:
                polled = pool.submit(viewer.get, f"/v1/jobs/{job['id']}?wait=true&timeout=20")
                time.sleep(0.3)
                began = time.monotonic()
                assert analyst.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
                assert polled.result().json()["status"] == "cancelled"
                assert time.monotonic() - began < 5, "the long poll was not woken"

            wait_until("the read models caught up", lambda: ready(viewer))
        assert tables(direct) == rebuilt(direct)
    paused = [r for r in caplog.records if r.name == "jobledger.projections"]
    assert [r.levelname for r in paused] == ["WARNING", "INFO"], [r.message for r in paused]


class FailingFirst:
    """The real subscription behind a store that is away for the first ``failures`` calls."""

    def __init__(self, real: Callable[[int], BatchSubscription], failures: int) -> None:
        self.real = real
        self.failures = failures
        self.calls: list[tuple[float, int]] = []  # when, and from which position

    def __call__(self, after: int) -> BatchSubscription:
        self.calls.append((time.monotonic(), after))
        if len(self.calls) <= self.failures:
            raise OperationalError("server closed the connection unexpectedly")
        return self.real(after)


def test_the_runner_backs_off_while_the_store_is_away_and_resumes_from_its_positions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger = build_ledger(settings)
    try:
        runner = build_runner(ledger)
        ledger.submit(ANALYST, "graph_analysis")
        projected = ledger.recorder.max_notification_id()
        flaky = FailingFirst(subscribe(ledger), failures=4)
        stop = threading.Event()
        caplog.set_level(logging.INFO, logger="jobledger")
        following = threading.Thread(target=runner.follow, args=(flaky, stop))
        following.start()
        try:
            wait_until("the runner subscribes again", lambda: len(flaky.calls) > 4)
            ledger.submit(ANALYST, "graph_analysis")
            end = ledger.recorder.max_notification_id() or 0
            assert runner.wait_for(end, timeout=5), "the runner did not project after recovering"
        finally:
            stop.set()
            following.join(timeout=5)
        assert not following.is_alive()
        assert {after for _, after in flaky.calls} == {projected}, "not from the tracked position"
        assert set(runner.positions().values()) == {end}
        waits = [b[0] - a[0] for a, b in zip(flaky.calls, flaky.calls[1:], strict=False)]
        assert all(w >= 0.1 for w in waits), f"retried in a busy loop: {waits}"
        assert waits[3] > waits[0], f"the back-off did not grow: {waits}"
        logged = [r for r in caplog.records if r.name == "jobledger.projections"]
        assert [r.levelname for r in logged] == ["WARNING", "INFO"], [r.message for r in logged]
    finally:
        ledger.close()


def test_jobledger_project_keeps_projecting_after_postgres_restarts(tmp_path: Path) -> None:
    with proxied_schema() as (settings, direct, proxy):
        writer = build_ledger(direct)
        fleet = Fleet(settings, tmp_path)
        try:
            projector = fleet.start("project")
            watcher = build_runner(writer)

            def projected() -> bool:
                assert projector.poll() is None, projector.communicate()[1]
                end = writer.recorder.max_notification_id() or 0
                return min(watcher.positions().values()) == end

            writer.submit(ANALYST, "graph_analysis")
            wait_until("project follows the ledger", projected)
            proxy.go_down()
            time.sleep(1.0)
            writer.submit(ANALYST, "graph_analysis")  # straight to the server
            proxy.come_back()
            wait_until("project catches up after the restart", projected, timeout=5)
            writer.submit(ANALYST, "graph_analysis")
            wait_until("project follows the ledger live again", projected)
        finally:
            fleet.stop_all()
            writer.close()
        assert proxy.cuts > 0, "no connection was cut: the test proved nothing"
        stderr = projector.communicate()[1]
        # One warning and one all-clear per outage, never a flood. A projector idle in its
        # wait can miss a 1 s cut altogether (seen on a machine loaded 13 deep): then neither.
        interrupted = stderr.count("projections interrupted")
        assert interrupted <= 1, stderr
        assert stderr.count("projections resumed") == interrupted, stderr


def test_long_polls_on_an_api_without_projections_wake_again_after_postgres_restarts(
    tmp_path: Path,
) -> None:
    with proxied_schema() as (settings, _, proxy):
        fleet = Fleet(settings, tmp_path)
        try:
            fleet.start("project")
            with contextlib.contextmanager(serve)(settings, projections=False) as api:
                analyst, viewer = api.as_role("analyst"), api.as_role("viewer")
                first = analyst.post("/v1/jobs", json={"type": "graph_analysis"})
                assert first.status_code == 202, first.text
                wait_until("the projector is up", lambda: ready(viewer))
                proxy.go_down()
                time.sleep(1.0)
                proxy.come_back()
                job = analyst.post("/v1/jobs", json={"type": "graph_analysis"})
                assert job.status_code == 202, job.text
                job_id = job.json()["id"]
                wait_until("the projector and the change channel are back", lambda: ready(viewer))
                with ThreadPoolExecutor(1) as pool:
                    polled = pool.submit(viewer.get, f"/v1/jobs/{job_id}?wait=true&timeout=20")
                    time.sleep(0.3)
                    began = time.monotonic()
                    assert analyst.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
                    assert polled.result().json()["status"] == "cancelled"
                    assert time.monotonic() - began < 5, "the long poll was not woken"
        finally:
            fleet.stop_all()
        assert proxy.cuts > 0, "no connection was cut: the test proved nothing"
