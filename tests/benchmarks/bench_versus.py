"""The HTTP API of this tree beside an earlier commit's, alternately, from one script.

``python -m tests.benchmarks.bench_versus REF [ROUNDS] [SECONDS]`` unpacks REF's
``domain/``, ``projections/`` and ``adapters/`` (``git archive``) into a temporary folder
and runs its ``jobledger serve`` (same virtualenv, its packages first on ``PYTHONPATH``)
beside this tree's, each on a fresh SQLite file. Every round runs each part against
both servers, in alternating order, so that other work on a shared machine hits both
alike: GET /v1/jobs/{id} with 32 clients and with 1 (``bench_api``), POST /v1/jobs with
32, and the worker protocol with 16 workers (``bench_workers``). It prints medians and
the ratios this/REF, with the server's CPU per request, which load elsewhere skews
less than the rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.benchmarks import bench_api as api
from tests.benchmarks import bench_workers as workers
from tests.benchmarks.bench_core import percentile
from tests.benchmarks.bench_postgres import process_cpu
from tests.benchmarks.earlier_tree import unpack

PARTS = ("GET, 32 clients", "GET, 1 client", "POST, 32 clients", "worker protocol")


@contextlib.contextmanager
def serving(folder: Path, pythonpath: Path | None) -> Iterator[tuple[str, int, Any]]:
    folder.mkdir()
    db, port, log = f"sqlite:///{folder / 'api.db'}", api.free_port(), folder / "serve.log"
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [api.JOBLEDGER, "serve", "--port", str(port), "--db", db],
            stdout=out,
            stderr=out,
            env=env,
        )
        try:
            asyncio.run(api.wait_healthy(port, server, log))
            yield db, port, server
        finally:
            api.stop(server)


def run_part(part: str, port: int, tokens: tuple[str, str], ids: list[str], seconds: float) -> Any:
    analyst, worker = tokens
    rng = random.Random(part)
    if part == "worker protocol":
        asyncio.run(workers.caught_up(port, worker))
        start = time.perf_counter() + api.WARM_UP_S
        tally = workers.Tally(start=start, end=start + seconds)

        async def crew() -> None:
            names = [f"w{n}" for n in range(workers.WORKERS)]
            await asyncio.gather(*(workers.worker(port, worker, n, tally) for n in names))

        asyncio.run(crew())
        ms = [latency for step in tally.latencies.values() for latency in step]
        return {
            "rate": tally.lifecycles / seconds,
            "requests": len(ms),
            "p50": percentile(ms, 0.5),
            "p99": percentile(ms, 0.99),
            "failures": sum(tally.failures.values()),
        }
    if part.startswith("POST"):
        job = ("POST", "/v1/jobs", api.JOB)
        row = asyncio.run(api.drive(port, analyst, lambda: job, seconds=seconds))
    else:
        clients = 1 if "1 client" in part else api.CLIENTS
        row = asyncio.run(
            api.drive(
                port,
                analyst,
                lambda: ("GET", f"/v1/jobs/{rng.choice(ids)}", b""),
                clients=clients,
                seconds=seconds,
            )
        )
    row["requests"] = row["rate"] * seconds
    row["failures"] = sum(row["failures"].values())
    return row


def measure(ref: str, rounds: int, seconds: float) -> dict[str, dict[str, list[Any]]]:
    results: dict[str, dict[str, list[Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        paths = {ref: unpack(ref, Path(tmp) / "ref"), "this tree": None}
        servers = {}
        for n, (name, path) in enumerate(paths.items()):
            db, port, server = stack.enter_context(serving(Path(tmp) / f"db{n}", path))
            tokens = api.mint(db, *api.ANALYST), api.mint(db, *workers.WORKER)
            ids = asyncio.run(api.seed(port, tokens[0]))
            for _ in range(8):  # jobs for the workers to claim
                asyncio.run(api.seed(port, tokens[0]))
            servers[name] = (port, server, tokens, ids)
            results[name] = {part: [] for part in PARTS}
        for n in range(rounds):
            order = list(servers) if n % 2 == 0 else list(servers)[::-1]
            for part in PARTS:
                for name in order:
                    port, server, tokens, ids = servers[name]
                    cpu = process_cpu(server.pid)
                    row = run_part(part, port, tokens, ids, seconds)
                    window = (api.WARM_UP_S + seconds) / seconds  # CPU ran through the warm-up
                    row["cpu_ms"] = (process_cpu(server.pid) - cpu) / window / row["requests"] * 1e3
                    results[name][part].append(row)
    return results


def main() -> None:
    ref = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
    load = os.getloadavg()[0]
    results = measure(ref, rounds, seconds)
    print(
        f"http api, {ref} beside this tree: {rounds} alternating rounds of {seconds:.0f} s"
        f" after {api.WARM_UP_S:.0f} s warm-up (SQLite); medians, and the ratio this/{ref}"
    )
    keys = {"rate": "req/s", "p50": "p50 ms", "p99": "p99 ms", "cpu_ms": "CPU ms/req"}
    before, after = results[ref], results["this tree"]
    for part in PARTS:
        cells = []
        for key, label in keys.items():
            old = statistics.median(row[key] for row in before[part])
            new = statistics.median(row[key] for row in after[part])
            cells.append(f"{label} {old:,.2f} -> {new:,.2f} ({new / old:.2f})")
        failures = sum(row["failures"] for row in before[part] + after[part])
        unit = " (rate: lifecycles/s)" if part == "worker protocol" else ""
        print(f"  {part:<17} " + "; ".join(cells) + f"; non-2xx {failures}{unit}")
    print(f"  load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
