"""HTTP API: requests per second and latency of job reads and submits, over loopback.

``jobledger serve`` runs as a subprocess on a fresh SQLite file, as it would be deployed
(one uvicorn worker, the projection runner beside it). 200 jobs are seeded, then 32
clients, each on its own HTTP/1.1 keep-alive connection, send requests back to back for
10 s after a 2 s warm-up: first GET /v1/jobs/{id} on random seeded jobs (what a UI polls),
then POST /v1/jobs (what it submits). The figures are what one server process serves
through the whole stack: token check, validation, read model or ledger, JSON.

The load generator runs in this process, a separate one from the server, and must leave
it as much of the two cores as it can. It is plain asyncio with raw
``asyncio.open_connection`` requests, each response read by its Content-Length. Measured
on this machine against the same server, it spent 0.13-0.16 ms of CPU per request (about
5% of a core at full load); ``httpx.AsyncClient`` spent 4.7-7.4 ms (60-86% of a core),
took CPU from the server and cut its throughput two to four times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_core import percentile

CLIENTS = 32
WAITERS = 1_000
SEED_JOBS = 200
WARM_UP_S = 2.0
MEASURE_S = 10.0
JOB = json.dumps(
    {
        "type": "entity_extraction",
        "investigationId": "INV-1",
        "inputs": [{"name": "c.jsonl", "mediaType": "application/jsonl", "sizeBytes": 100}],
    }
).encode()
# a reader too, so the benchmark can read /metrics
ANALYST = ("--tenant", "acme", "--role", "analyst", "--role", "viewer", "--sub", "alice")
Request = tuple[str, str, bytes]  # method, path, JSON body (empty for none)
JOBLEDGER = str(Path(sys.executable).with_name("jobledger"))


class Connection:
    """One keep-alive HTTP/1.1 connection; answers must carry a Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(
        self, token: str, method: str, path: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(lines[0].split(" ", 2)[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def seed(port: int, token: str) -> list[str]:
    async def submit(count: int) -> list[str]:
        conn = await Connection.open(port)
        try:
            answers = [await conn.send(token, "POST", "/v1/jobs", JOB) for _ in range(count)]
        finally:
            conn.close()
        assert all(status == 202 for status, _ in answers), answers[:3]
        return [json.loads(body)["id"] for _, body in answers]

    batches = await asyncio.gather(*(submit(SEED_JOBS // 8) for _ in range(8)))
    return [job_id for batch in batches for job_id in batch]


async def drive(
    ports: int | Sequence[int],
    token: str,
    make: Callable[[], Request],
    clients: int = CLIENTS,
    seconds: float = MEASURE_S,
) -> dict[str, Any]:
    """``clients`` connections back to back, client n on ``ports[n % len(ports)]``; only
    requests sent after the warm-up count."""
    ports = [ports] if isinstance(ports, int) else list(ports)
    latencies: list[float] = []
    per_port: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    start = time.perf_counter() + WARM_UP_S
    end = start + seconds

    async def client(port: int) -> None:
        conn = await Connection.open(port)
        while (sent := time.perf_counter()) < end:
            try:
                status = str((await conn.send(token, *make()))[0])
            except (OSError, asyncio.IncompleteReadError) as error:
                status = type(error).__name__
                conn.close()
                conn = await Connection.open(port)
            if sent >= start:
                latencies.append(time.perf_counter() - sent)
                per_port[port] += 1
                if not status.startswith("2"):
                    failures[status] += 1
        conn.close()

    cpu = time.process_time()
    await asyncio.gather(*(client(ports[n % len(ports)]) for n in range(clients)))
    ms = [latency * 1000 for latency in latencies]
    return {
        "rate": len(ms) / seconds,
        "per_process": [per_port[port] / seconds for port in ports],
        "p50": percentile(ms, 0.50),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
        "failures": failures,
        "cpu": (time.process_time() - cpu) / (WARM_UP_S + seconds),
    }


async def beside_waiters(
    port: int, token: str, ids: list[str], work: Coroutine[Any, Any, dict[str, Any]]
) -> dict[str, Any]:
    """Run ``work`` while WAITERS long polls are held open on queued jobs."""
    connections = await asyncio.gather(*(Connection.open(port) for _ in range(WAITERS)))
    head = "GET /v1/jobs/{} ?wait=true&timeout=120 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for n, conn in enumerate(connections):
        request = head.format(ids[n % len(ids)]).replace(" ?", "?")
        conn.writer.write(f"{request}Authorization: Bearer {token}\r\n\r\n".encode())
    await asyncio.gather(*(conn.writer.drain() for conn in connections))
    try:
        result = await work
        probe = await Connection.open(port)
        _, page = await probe.send(token, "GET", "/metrics")
        probe.close()
        waiting = [ln for ln in page.decode().splitlines() if ln.startswith("jobledger_waiters ")]
        result["waiting"] = int(float(waiting[0].split()[1]))
        return result
    finally:
        for conn in connections:
            conn.close()


async def measure(port: int, token: str) -> dict[str, dict[str, Any]]:
    ids = await seed(port, token)
    rng = random.Random(1)
    return {
        "GET /v1/jobs/{id}": await drive(
            port, token, lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b"")
        ),
        # The same with one client: the latency of a read with no queue in front of it.
        "GET, 1 client": await drive(
            port, token, lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b""), clients=1
        ),
        # And again while a thousand long polls wait on jobs that do not change.
        f"GET, 1 client, {WAITERS:,} waiting": await beside_waiters(
            port,
            token,
            ids,
            drive(port, token, lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b""), clients=1),
        ),
        "POST /v1/jobs": await drive(port, token, lambda: ("POST", "/v1/jobs", JOB)),
    }


async def wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jobledger serve exited:\n{log.read_text()}")
        try:
            conn = await Connection.open(port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            status, _ = await conn.send("", "GET", "/healthz")
        finally:
            conn.close()
        if status == 200:
            return
    raise RuntimeError(f"jobledger serve not healthy after 30 s:\n{log.read_text()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def mint(db: str, *claims: str) -> str:
    """A development token from ``jobledger token``, signed with the key beside ``db``."""
    return subprocess.run(
        [JOBLEDGER, "token", *claims, "--db", db], check=True, capture_output=True, text=True
    ).stdout.strip()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far; 0 without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, from field 3 on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its children: a ``serve --processes N`` and the processes it runs."""
    found = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True)
    return [pid, *(int(child) for child in found.stdout.split())]


def tree_cpu(pids: Sequence[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


@contextlib.contextmanager
def serving(folder: Path, processes: int = 1) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """``jobledger serve`` (``--processes``) on a fresh SQLite file in ``folder``, healthy:
    the file's URL, the port and the process; stopped afterwards."""
    db, port, log = f"sqlite:///{folder / 'api.db'}", free_port(), folder / "serve.log"
    more = ["--processes", str(processes)] if processes > 1 else []
    with log.open("wb") as out:
        server = subprocess.Popen(
            [JOBLEDGER, "serve", "--port", str(port), "--db", db, *more], stdout=out, stderr=out
        )
        try:
            asyncio.run(wait_healthy(port, server, log))
            yield db, port, server
        finally:
            stop(server)


PROCESSES = int(os.environ.get("JOBLEDGER_BENCH_PROCESSES", "2"))
PROCESS_ROUNDS = int(os.environ.get("JOBLEDGER_BENCH_PROCESS_ROUNDS", "2"))


async def reads_and_submits(port: int, token: str, pids: list[int]) -> dict[str, dict[str, Any]]:
    """GETs, then POSTs, each with the server's CPU per request (``pids``: its processes)."""
    ids = await seed(port, token)
    rng = random.Random(1)
    phases: dict[str, Callable[[], Request]] = {
        "GET /v1/jobs/{id}": lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b""),
        "POST /v1/jobs": lambda: ("POST", "/v1/jobs", JOB),
    }
    rows = {}
    for name, make in phases.items():
        before = tree_cpu(pids)
        row = await drive(port, token, make)
        served = row["rate"] * (WARM_UP_S + MEASURE_S)  # the warm-up at the same rate
        row["server_cpu_ms"] = (tree_cpu(pids) - before) * 1000 / served
        rows[name] = row
    return rows


def compare_processes(folder: Path) -> None:
    """``serve`` beside ``serve --processes N``, alternating, each on a fresh file; the
    server's CPU is that of every process it runs, per request."""
    runs: dict[int, list[dict[str, dict[str, Any]]]] = {1: [], PROCESSES: []}
    for n in range(PROCESS_ROUNDS * 2):
        processes = (1, PROCESSES)[n % 2]
        (run := folder / f"processes-{n}").mkdir()
        with serving(run, processes) as (db, port, server):
            rows = asyncio.run(reads_and_submits(port, mint(db, *ANALYST), tree(server.pid)))
        runs[processes].append(rows)
    print(
        f"http api, processes: serve vs serve --processes {PROCESSES} (+1 projector), "
        f"{PROCESS_ROUNDS} alternating rounds each, medians; {CLIENTS} clients, SQLite"
    )
    print(
        f"  {'':<30} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        f" {'server CPU ms/req':>18}"
    )
    for name in runs[1][0]:
        medians = {}
        for processes, rounds in runs.items():
            rows = [r[name] for r in rounds]
            figures = {
                key: statistics.median(row[key] for row in rows)
                for key in ("rate", "p50", "p99", "server_cpu_ms")
            }
            failures = sum(sum(row["failures"].values()) for row in rows)
            medians[processes] = figures
            label = f"{name}, {processes} process{'es' if processes > 1 else ''}"
            print(
                f"  {label:<30} {figures['rate']:>7,.0f} {figures['p50']:>8.1f}"
                f" {figures['p99']:>8.1f} {failures:>8,} {figures['server_cpu_ms']:>18.2f}"
            )
        one, many = medians[1], medians[PROCESSES]
        print(
            f"  {'  ratio ' + str(PROCESSES) + ':1':<30} {many['rate'] / one['rate']:>6.2f}x"
            f" {many['p50'] / one['p50']:>7.2f}x {many['p99'] / one['p99']:>7.2f}x {'':>8}"
            f" {many['server_cpu_ms'] / one['server_cpu_ms']:>17.2f}x"
        )
    print(
        f"  note: the load generator shares the {os.cpu_count()} cores; server CPU per request"
        " counts the warm-up's requests at the measured rate"
    )


def main() -> None:
    if os.environ.get("JOBLEDGER_BENCH_ONLY_PROCESSES") != "1":
        single()
    with tempfile.TemporaryDirectory() as tmp:
        compare_processes(Path(tmp))


def single() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with serving(Path(tmp)) as (db, port, _):
            rows = asyncio.run(measure(port, mint(db, *ANALYST)))
        print(
            f"http api: {CLIENTS} keep-alive clients (or 1) on loopback, {MEASURE_S:.0f} s each"
            f" after {WARM_UP_S:.0f} s warm-up, {SEED_JOBS} seeded jobs (SQLite)"
        )
        print(
            f"  {'':<30} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8}"
            f" {'client CPU':>11}"
        )
        for name, row in rows.items():
            failures = row["failures"]
            print(
                f"  {name:<30} {row['rate']:>7,.0f} {row['p50']:>8.1f} {row['p99']:>8.1f}"
                f" {row['max']:>8.1f} {sum(failures.values()):>8,}"
                f" {row['cpu']:>10.0%}"
                + (f"   {dict(failures)}" if failures else "")
                + (f"   (server counted {row['waiting']:,} waiters)" if "waiting" in row else "")
            )
        print("  aim: p99 under 20 ms for reads; no non-2xx answers")
