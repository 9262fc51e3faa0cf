"""Workers over HTTP: complete job lifecycles per second, beside plain eventsourcing.

``jobledger serve`` runs as a subprocess on a fresh SQLite file (``bench_api.serving``),
with entity_extraction jobs submitted through POST /v1/jobs before any timing. Then 16
workers, each on its own keep-alive connection (``bench_api.Connection``), loop over the
worker protocol: POST /v1/claims, then start, progress at 30, 60 and 90 %, usage and
complete on the claimed job, each command with its lease and a command id of its own.
That is seven events a lifecycle (claimed, started, 3 x progress, usage, completed).
Lifecycles count whose answer to complete came within the measured window.

The baseline is the same seven events written straight to plain ``eventsourcing`` in one
process: ``bench_core.PlainApp`` on a SQLite file, jobs submitted untimed first, then
each job loaded and saved once per event (``bench_core.PLAIN_MOVES``). Rounds alternate
between the two, the read models caught up before each part, so that noise on a shared
machine hits both alike; the figure that matters is the ratio HTTP/plain.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobledger.adapters.cli.samples import sample_result
from jobledger.domain.results import JobType
from tests.benchmarks.bench_api import (
    ANALYST,
    SEED_JOBS,
    WARM_UP_S,
    Connection,
    mint,
    seed,
    serving,
)
from tests.benchmarks.bench_core import PLAIN_MOVES, PlainApp, percentile
from tests.benchmarks.bench_postgres import process_cpu, projector_lag

WORKERS = 16
ROUNDS = 3
MEASURE_S = 8.0
EVENTS_PER_LIFECYCLE = len(PLAIN_MOVES)  # 7
SEED_CALLS = 15  # of bench_api.seed, SEED_JOBS jobs each: 3,000 jobs for every round
PLAIN_JOBS = 300  # per baseline round
WORKER = ("--tenant", "acme", "--role", "worker", "--sub", "bench-worker")
STEPS = ("claim", "start", "progress", "usage", "complete")


@dataclass
class Tally:
    """What the workers of one window saw; requests sent before the window do not count."""

    start: float
    end: float
    lifecycles: int = 0
    empty: int = 0  # claims answered 204: the queue had run dry
    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    failures: Counter[str] = field(default_factory=Counter)


def lifecycle(job: dict[str, Any], rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """The commands after a claim: step name, action, body without lease and command id."""
    result = sample_result(JobType(job["type"]), rng)
    usage = {"model": "gpt-4o", "inputTokens": 1200, "outputTokens": 300}
    return [
        ("start", "start", {}),
        *(("progress", "progress", {"percent": percent}) for percent in (30, 60, 90)),
        ("usage", "usage", usage),
        ("complete", "complete", {"result": result}),
    ]


async def worker(port: int, token: str, name: str, tally: Tally) -> None:
    """Claim and run jobs back to back until the window ends."""
    conn = await Connection.open(port)
    rng = random.Random(name)
    claim = json.dumps({"agent": name, "leaseSeconds": 300}).encode()

    async def call(step: str, path: str, body: bytes) -> tuple[int, bytes]:
        sent = time.perf_counter()
        status, answer = await conn.send(token, "POST", path, body)
        if tally.start <= sent < tally.end:
            tally.latencies[step].append((time.perf_counter() - sent) * 1000)
            if status >= 300:
                tally.failures[f"{step} {status}"] += 1
        return status, answer

    try:
        while time.perf_counter() < tally.end:
            status, answer = await call("claim", "/v1/claims", claim)
            if status == 204:
                tally.empty += 1
                await asyncio.sleep(0.05)
                continue
            if status != 200:
                continue
            job = json.loads(answer)
            lease = job["leaseId"]
            for n, (step, action, fields) in enumerate(lifecycle(job, rng)):
                # unique per command: ids are the caller's (one subject for all workers)
                body = {"leaseId": lease, "commandId": f"{job['jobId']}-{n}", **fields}
                path = f"/v1/jobs/{job['jobId']}/{action}"
                if (await call(step, path, json.dumps(body).encode()))[0] != 200:
                    break
            else:
                if tally.start <= time.perf_counter() <= tally.end:
                    tally.lifecycles += 1
    finally:
        conn.close()


async def caught_up(port: int, token: str, timeout: float = 60.0) -> None:
    """Wait until the read models have projected every event in the ledger."""
    deadline = time.monotonic() + timeout
    while await projector_lag(port, token) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"read models still behind after {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def http_round(port: int, token: str, server_pid: int) -> dict[str, Any]:
    await caught_up(port, token)
    start = time.perf_counter() + WARM_UP_S
    tally = Tally(start=start, end=start + MEASURE_S)
    cpu, server_cpu, ticks = time.process_time(), process_cpu(server_pid), machine_ticks()
    await asyncio.gather(*(worker(port, token, f"w{n}", tally) for n in range(WORKERS)))
    window = WARM_UP_S + MEASURE_S
    busy, total = (after - before for after, before in zip(machine_ticks(), ticks, strict=True))
    server_cpu = (process_cpu(server_pid) - server_cpu) / window
    requests = sum(len(samples) for samples in tally.latencies.values())
    return {
        "lifecycles": tally.lifecycles / MEASURE_S,
        "requests": requests / MEASURE_S,
        "tally": tally,
        "server_cpu": server_cpu,
        "per_cpu": tally.lifecycles / MEASURE_S / server_cpu if server_cpu else 0.0,
        "cpu": (time.process_time() - cpu) / window,
        "machine": busy / total if total else 0.0,
        "lag": await projector_lag(port, token),
    }


def machine_ticks() -> tuple[int, int]:
    """Clock ticks of all cores so far from /proc/stat: busy (all but idle and iowait), total."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return 0, 0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def plain_round(app: PlainApp, jobs: int = PLAIN_JOBS) -> dict[str, float]:
    """Lifecycles of PLAIN_MOVES, on jobs submitted beforehand, per second and per second
    of this process's CPU."""
    ids = [app.submit() for _ in range(jobs)]
    started, cpu = time.perf_counter(), time.process_time()
    for job_id in ids:
        for status, progress in PLAIN_MOVES:
            app.move(job_id, status, progress)
    cpu = time.process_time() - cpu
    return {"plain": jobs / (time.perf_counter() - started), "plain_per_cpu": jobs / cpu}


def measure(folder: Path) -> list[dict[str, Any]]:
    rounds = []
    plain = PlainApp(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "plain.db")}
    )
    try:
        with serving(folder) as (db, port, server):
            analyst, token = mint(db, *ANALYST), mint(db, *WORKER)
            plain_round(plain, PLAIN_JOBS // 10)  # warm-up: the file made, the code loaded
            for _ in range(SEED_CALLS):
                asyncio.run(seed(port, analyst))
            for n in range(ROUNDS):
                row: dict[str, Any] = {}
                for part in ("plain", "http") if n % 2 == 0 else ("http", "plain"):
                    if part == "plain":
                        asyncio.run(caught_up(port, token))
                        row.update(plain_round(plain))
                    else:
                        row.update(asyncio.run(http_round(port, token, server.pid)))
                rounds.append(row)
    finally:
        plain.close()
    return rounds


def figures(label: str, row: dict[str, Any]) -> str:
    """The rates of a round, or of the medians, and both ratios HTTP/plain."""
    events = EVENTS_PER_LIFECYCLE
    return (
        f"  {label:<8} {row['lifecycles']:>9,.1f} {row['lifecycles'] * events:>9,.0f}"
        f" {row['requests']:>7,.0f} {row['plain']:>10,.0f} {row['plain'] * events:>9,.0f}"
        f" {row['lifecycles'] / row['plain']:>6.3f}"
        f"   {row['per_cpu']:>6,.1f} {row['plain_per_cpu']:>6,.0f}"
        f" {row['per_cpu'] / row['plain_per_cpu']:>6.3f}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        rows = measure(Path(tmp))
        load_after = os.getloadavg()[0]
    print(
        f"workers: job lifecycles per second (claim, start, 3 x progress, usage, complete:"
        f" {EVENTS_PER_LIFECYCLE} events), {WORKERS} workers over HTTP on loopback to one server"
        f" (SQLite), {MEASURE_S:.0f} s after {WARM_UP_S:.0f} s warm-up, beside plain"
        f" eventsourcing in one process ({PLAIN_JOBS} lifecycles); {ROUNDS} alternating rounds,"
        f" {SEED_CALLS * SEED_JOBS:,} jobs queued first"
    )
    print(
        f"  {'':<8} {'HTTP lc/s':>9} {'events/s':>9} {'req/s':>7} {'plain lc/s':>10}"
        f" {'events/s':>9} {'ratio':>6}   {'HTTP':>6} {'plain':>6} {'ratio':>6} per CPU-s"
        f"   CPU: {'server':>6} {'client':>6} {'machine':>7} {'lag':>5} {'empty':>5}"
        f" {'non-2xx':>7}"
    )
    for n, row in enumerate(rows, 1):
        tally = row["tally"]
        print(
            figures(f"round {n}", row)
            + f"             {row['server_cpu']:>6.0%} {row['cpu']:>6.0%}"
            f" {row['machine']:>7.0%} {row['lag']:>5,} {tally.empty:>5,}"
            f" {sum(tally.failures.values()):>7,}"
            + (f"   {dict(tally.failures)}" if tally.failures else "")
        )
    keys = ("lifecycles", "requests", "plain", "per_cpu", "plain_per_cpu")
    print(figures("median", {key: statistics.median(row[key] for row in rows) for key in keys}))
    print(f"  {'per request, all rounds':<26} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for step in STEPS:
        ms = [latency for row in rows for latency in row["tally"].latencies[step]]
        if ms:
            print(
                f"  {'POST ' + step:<26} {percentile(ms, 0.5):>8.1f}"
                f" {percentile(ms, 0.99):>8.1f} {max(ms):>8.1f}"
            )
    print(
        "  note: lc = lifecycles; ratio = HTTP/plain; per CPU-s: lifecycles per second of"
        " CPU, the server's (projections included, client not) and the plain process's,"
        " which other work on the machine skews less than the rates per second; CPU over"
        " warm-up and measurement, in cores (machine: share of all cores busy, whoever used"
        " them); lag: events not yet projected when the workers stopped; empty: claims"
        " answered 204"
    )
    cores = os.cpu_count()
    print(f"  load average (1 min) {load:.2f} before, {load_after:.2f} after ({cores} cores)")


if __name__ == "__main__":
    main()
