"""Agent steps over HTTP: steps appended per second in batches of 20, beside single
progress reports.

``jobledger serve`` runs as a subprocess on a fresh SQLite file (``bench_api.serving``).
64 jobs are submitted, claimed (one-hour leases) and started untimed. Then 8 clients, each
on its own keep-alive connection (``bench_api.drive``), send back to back to random jobs:
either ``POST /v1/jobs/{id}/steps`` with 20 steps (each with a RAG answer, a tool call and
priced tokens, about 700 bytes of JSON) or ``POST /v1/jobs/{id}/progress`` with one
report, every request under the job's lease and a command id of its own. Rounds alternate
between the two so noise on a shared machine hits both alike. Each request records one
event either way: the figures that matter are steps per second against reports per
second, and what a batch costs against one report (request time ratio).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_api import ANALYST, Connection, drive, mint, serving

CLIENTS = 8
JOBS = 64
BATCH = 20
ROUNDS = 2
MEASURE_S = 5.0
WORKER = ("--tenant", "acme", "--role", "worker", "--sub", "bench-worker")


def step(work_id: int) -> dict[str, Any]:
    return {
        "workId": work_id,
        "actionName": "verify_registration",
        "category": "Data Consistency",
        "query": "Does the registration number match the certificate?",
        "reasoning": "The numbers agree on both documents.",
        "success": True,
        "iteration": work_id,
        "durationMs": 850,
        "executedAt": "2026-11-01T09:00:00Z",
        "verificationStatus": "passed",
        "targetItemIds": ["item_1", "item_2"],
        "ragResponse": {"answer": "They match.", "chunksSearched": 12, "processingTimeMs": 300},
        "toolCalls": [
            {
                "toolName": "lookup_company",
                "engineCode": "registry",
                "params": {"number": "123-45-67890"},
                "success": True,
                "executionTimeMs": 420,
                "rawContent": {"status": "active", "name": "Acme Ltd"},
            }
        ],
        "model": "gpt-4o",
        "inputTokens": 1200,
        "outputTokens": 150,
    }


STEPS = json.dumps([step(n) for n in range(1, BATCH + 1)])


async def started_jobs(port: int, analyst: str, worker: str) -> dict[str, str]:
    """JOBS jobs, each claimed and started: job id -> lease id."""
    conn = await Connection.open(port)
    leases: dict[str, str] = {}
    try:
        for _ in range(JOBS):
            await conn.send(analyst, "POST", "/v1/jobs", b'{"type": "entity_extraction"}')
        while len(leases) < JOBS:
            claim = json.dumps({"agent": "bench", "leaseSeconds": 3600}).encode()
            status, body = await conn.send(worker, "POST", "/v1/claims", claim)
            if status == 204:
                await asyncio.sleep(0.05)  # the read models have not seen every submit yet
                continue
            job = json.loads(body)
            leases[job["jobId"]] = job["leaseId"]
            start = json.dumps({"leaseId": job["leaseId"], "commandId": uuid.uuid4().hex})
            await conn.send(worker, "POST", f"/v1/jobs/{job['jobId']}/start", start.encode())
    finally:
        conn.close()
    return leases


async def measure(port: int, analyst: str, worker: str) -> dict[str, list[dict[str, Any]]]:
    leases = await started_jobs(port, analyst, worker)
    jobs = list(leases)
    rng = random.Random(3)

    def steps() -> tuple[str, str, bytes]:
        job = rng.choice(jobs)
        head = f'{{"leaseId": "{leases[job]}", "commandId": "{uuid.uuid4().hex}", "steps": '
        return "POST", f"/v1/jobs/{job}/steps", (head + STEPS + "}").encode()

    def progress() -> tuple[str, str, bytes]:
        job = rng.choice(jobs)
        body = {"leaseId": leases[job], "commandId": uuid.uuid4().hex, "percent": 50}
        return "POST", f"/v1/jobs/{job}/progress", json.dumps(body).encode()

    rows: dict[str, list[dict[str, Any]]] = {"steps": [], "progress": []}
    for _ in range(ROUNDS):
        rows["steps"].append(await drive(port, worker, steps, CLIENTS, MEASURE_S))
        rows["progress"].append(await drive(port, worker, progress, CLIENTS, MEASURE_S))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as (db, port, _):
        rows = asyncio.run(measure(port, mint(db, *ANALYST), mint(db, *WORKER)))
    batches = statistics.median(r["rate"] for r in rows["steps"])
    reports = statistics.median(r["rate"] for r in rows["progress"])
    failures = sum(sum(r["failures"].values()) for rs in rows.values() for r in rs)
    print(
        f"agent steps over HTTP: {CLIENTS} keep-alive clients on {JOBS} running jobs, "
        f"{ROUNDS} alternating rounds of {MEASURE_S:.0f} s (SQLite), median"
    )
    print(f"  {'':<34} {'req/s':>7} {'items/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for name, label, per in (
        ("steps", f"POST steps, batches of {BATCH}", BATCH),
        ("progress", "POST progress, one report", 1),
    ):
        rate = statistics.median(r["rate"] for r in rows[name])
        p50 = statistics.median(r["p50"] for r in rows[name])
        p99 = statistics.median(r["p99"] for r in rows[name])
        print(f"  {label:<34} {rate:>7,.0f} {rate * per:>8,.0f} {p50:>7.1f} {p99:>7.1f}")
    print(
        f"  steps/s : progress reports/s = {batches * BATCH / reports:.1f}x; "
        f"a batch of {BATCH} takes {reports / batches:.2f}x the time of one report; "
        f"non-2xx answers: {failures}"
    )


if __name__ == "__main__":
    main()
