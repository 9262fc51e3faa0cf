"""Jobs of tasks over HTTP: tasks per second, beside plain jobs run the same way.

``jobledger serve`` runs as a subprocess on a fresh SQLite file. Jobs of 5 tasks (one per
named worker) are submitted before any timing; then 5 analyzers, one per worker name, each
on its own keep-alive connection, loop: ``POST /v1/claims/tasks``, ``PUT`` executing (a
renewal), ``PUT`` successful with a score; the last task of a job records its verdict. The
baseline is plain jobs run by 5 workers the same way, three requests each (claim, start,
complete). Rounds alternate; the figure that matters is the ratio tasks/plain jobs.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from tests.benchmarks.bench_api import ANALYST, WARM_UP_S, Connection, mint, serving

WORKERS = 5
JOBS = 240  # of each kind, queued before each round
ROUNDS = 3
MEASURE_S = 5.0


async def submit(port: int, token: str, body: dict[str, object], count: int) -> None:
    conn = await Connection.open(port)
    try:
        for _ in range(count):
            status, _ = await conn.send(token, "POST", "/v1/jobs", json.dumps(body).encode())
            assert status == 202, status
    finally:
        conn.close()


async def run(port: int, tokens: list[str], tasks: bool, window: tuple[float, float]) -> int:
    """Lifecycles finished inside the window by WORKERS workers."""
    start, end = window
    done = 0

    async def worker(token: str, n: int) -> None:
        nonlocal done
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < end:
                claim_path = "/v1/claims/tasks" if tasks else "/v1/claims"
                claim = {"commandId": uuid4().hex} if tasks else {"agent": f"w{n}"}
                status, answer = await conn.send(
                    token, "POST", claim_path, json.dumps(claim).encode()
                )
                if status != 200:
                    await asyncio.sleep(0.01)
                    continue
                got = json.loads(answer)
                if tasks:
                    path = f"/v1/jobs/{got['task']['jobId']}/tasks/{got['task']['taskId']}"
                    steps = [{"state": "executing"}, {"state": "successful", "score": 50}]
                    sends = [("PUT", path, body) for body in steps]
                else:
                    path = f"/v1/jobs/{got['jobId']}"
                    sends = [
                        ("POST", f"{path}/start", {}),
                        ("POST", f"{path}/complete", {"result": {}}),
                    ]
                statuses = []
                for method, target, body in sends:
                    full = {"leaseId": got["leaseId"], "commandId": uuid4().hex, **body}
                    sent = await conn.send(token, method, target, json.dumps(full).encode())
                    statuses.append(sent[0])
                if any(status != 200 for status in statuses):
                    raise RuntimeError(f"a {'task' if tasks else 'job'} command failed: {statuses}")
                if start <= time.perf_counter() <= end:
                    done += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker(token, n) for n, token in enumerate(tokens)))
    return done


def measure(folder: Path) -> list[dict[str, float]]:
    rows = []
    with serving(folder) as (db, port, _):
        analyst = mint(db, *ANALYST)
        analyzers = [
            mint(db, "--tenant", "acme", "--role", "analyzer", "--sub", f"w{n}")
            for n in range(WORKERS)
        ]
        worker = mint(db, "--tenant", "acme", "--role", "worker", "--sub", "bench-worker")
        names = [f"w{n}" for n in range(WORKERS)]
        for n in range(ROUNDS):
            row: dict[str, float] = {}
            for part in ("tasks", "plain") if n % 2 == 0 else ("plain", "tasks"):
                tasks = part == "tasks"
                body: dict[str, object] = {"type": "entity_extraction"}
                if tasks:
                    body |= {"subject": f"sha256:{n}", "workers": names}
                asyncio.run(submit(port, analyst, body, JOBS))
                time.sleep(1.0)  # the read models see them
                start = time.perf_counter() + WARM_UP_S
                tokens = analyzers if tasks else [worker] * WORKERS
                done = asyncio.run(run(port, tokens, tasks, (start, start + MEASURE_S)))
                row[part] = done / MEASURE_S
            rows.append(row)
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp))
    print(
        f"tasks: a job of {WORKERS} tasks run by {WORKERS} analyzers over HTTP (claim, renew,"
        f" succeed: 3 requests a task), beside plain jobs run by {WORKERS} workers (claim,"
        f" start, complete: 3 requests a job); SQLite, {MEASURE_S:.0f} s after"
        f" {WARM_UP_S:.0f} s warm-up, {ROUNDS} alternating rounds"
    )
    print(f"  {'':<8} {'tasks/s':>8} {'jobs/s':>7} {'plain jobs/s':>12} {'ratio':>6}")
    median = {k: statistics.median(r[k] for r in rows) for k in ("tasks", "plain")}
    labelled = [(f"round {n}", r) for n, r in enumerate(rows, 1)]
    for label, row in [*labelled, ("median", median)]:
        print(
            f"  {label:<8} {row['tasks']:>8,.1f} {row['tasks'] / WORKERS:>7,.1f}"
            f" {row['plain']:>12,.1f} {row['tasks'] / row['plain']:>6.3f}"
        )
    print("  note: ratio = tasks per second / plain jobs per second (the same requests each)")


if __name__ == "__main__":
    main()
