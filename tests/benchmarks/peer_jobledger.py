"""jobledger on the peer benchmark's workload, over HTTP against ``jobledger serve``.

16 clients, each on its own keep-alive connection (``bench_api.Connection``), submit
their share of the jobs with POST /v1/jobs; then 16 workers loop: POST /v1/claims, then
start and complete (a tiny result) with the lease, until a claim answers 204 (nothing
queued). A fresh server (projections beside it, as deployed) serves each run, on a new
SQLite file or a new schema of the bench database; the CPU counted is the server's and,
on PostgreSQL, its backends'. Afterwards every job is loaded from the event store and
must be completed.

``CLIENTS`` holds the ways of driving the API: one job per request, and batched:
submits by 100 (POST /v1/jobs/batch), claims by 10 (POST /v1/claims/batch), then one
request starting the 10 and one completing them (POST /v1/jobs/commands). The start
goes before the work and the completion after it, as a real worker sends them, so a
watcher sees each job running meanwhile: three requests per 10 jobs. That is the
analogue of pgqueuer's batched dequeue (which marks the jobs picked) and its per-job
acks; sending start and complete in one request would save a request but hide the
running state, which a queue's ack does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.lifecycle import JobStatus
from tests.benchmarks.bench_api import (
    ANALYST,
    JOB,
    JOBLEDGER,
    Connection,
    free_port,
    mint,
    serving,
    stop,
    tree,
    wait_healthy,
)
from tests.benchmarks.bench_workers import WORKER
from tests.benchmarks.peer_meter import (
    Meter,
    Outcome,
    Phases,
    Workload,
    settled_transactions,
    transactions_since,
)

TINY_RESULT = {"type": "entity_extraction", "summary": "done"}


@dataclass(frozen=True)
class Clients:
    """How the load generator submits a share of the jobs and how one worker drains."""

    submit: Callable[[int, str, int], Awaitable[list[str]]]  # port, token, jobs -> ids
    work: Callable[[int, str, str], Awaitable[None]]  # port, token, agent name


async def submit_one_by_one(port: int, token: str, jobs: int) -> list[str]:
    conn = await Connection.open(port)
    ids = []
    try:
        for _ in range(jobs):
            status, body = await conn.send(token, "POST", "/v1/jobs", JOB)
            if status != 202:
                raise RuntimeError(f"POST /v1/jobs answered {status}: {body[:200]!r}")
            ids.append(json.loads(body)["id"])
    finally:
        conn.close()
    return ids


async def work_one_by_one(port: int, token: str, agent: str) -> None:
    """Claim, start and complete jobs until a claim finds nothing queued."""
    conn = await Connection.open(port)
    claim = json.dumps({"agent": agent, "leaseSeconds": 300}).encode()
    try:
        while True:
            status, body = await conn.send(token, "POST", "/v1/claims", claim)
            if status == 204:
                return
            if status != 200:
                raise RuntimeError(f"POST /v1/claims answered {status}: {body[:200]!r}")
            await _run(conn, token, json.loads(body))
    finally:
        conn.close()


SUBMIT_BATCH = 100  # jobs a POST /v1/jobs/batch
CLAIM_BATCH = 10  # jobs a POST /v1/claims/batch


async def submit_batched(port: int, token: str, jobs: int) -> list[str]:
    """The share in batches of ``SUBMIT_BATCH`` (POST /v1/jobs/batch)."""
    conn = await Connection.open(port)
    job = json.loads(JOB)
    ids: list[str] = []
    try:
        while len(ids) < jobs:
            n = min(SUBMIT_BATCH, jobs - len(ids))
            batch = json.dumps({"jobs": [job] * n}).encode()
            status, body = await conn.send(token, "POST", "/v1/jobs/batch", batch)
            items = json.loads(body)["items"] if status == 200 else []
            if status != 200 or any(item["status"] != 202 for item in items):
                raise RuntimeError(f"POST /v1/jobs/batch answered {status}: {body[:200]!r}")
            ids.extend(item["jobId"] for item in items)
    finally:
        conn.close()
    return ids


async def work_batched(port: int, token: str, agent: str, alone: bool = False) -> None:
    """Claim ``CLAIM_BATCH`` jobs a request (POST /v1/claims/batch), start them all in
    one request and complete them all in another (POST /v1/jobs/commands), until a
    claim finds nothing queued. ``alone``: each job started and completed by requests of
    its own, as the batched row ran before the API took worker commands in batches (and
    as a server without POST /v1/jobs/commands, ``JOBLEDGER_BENCH_REF``, can)."""
    conn = await Connection.open(port)
    claim = json.dumps({"agent": agent, "leaseSeconds": 300, "max": CLAIM_BATCH}).encode()
    try:
        while True:
            status, body = await conn.send(token, "POST", "/v1/claims/batch", claim)
            if status != 200:
                raise RuntimeError(f"POST /v1/claims/batch answered {status}: {body[:200]!r}")
            claims = json.loads(body)["claims"]
            if not claims:
                return
            for job in claims if alone else ():
                await _run(conn, token, job)
            for n, (action, fields) in enumerate(() if alone else STEPS):
                commands = [
                    {
                        "jobId": job["jobId"],
                        "action": action,
                        "leaseId": job["leaseId"],
                        "commandId": f"{job['jobId']}-{n}",
                        **fields,
                    }
                    for job in claims
                ]
                batch = json.dumps({"commands": commands}).encode()
                status, body = await conn.send(token, "POST", "/v1/jobs/commands", batch)
                items = json.loads(body)["items"] if status == 200 else []
                if status != 200 or any(item["status"] != 200 for item in items):
                    raise RuntimeError(f"POST /v1/jobs/commands answered {status}: {body[:300]!r}")
    finally:
        conn.close()


# What a worker sends on each job it claimed: start, then complete with a tiny result.
STEPS: list[tuple[str, dict[str, Any]]] = [("start", {}), ("complete", {"result": TINY_RESULT})]


async def _run(conn: Connection, token: str, job: dict[str, Any]) -> None:
    """Start and complete a claimed job with a tiny result."""
    for n, (action, fields) in enumerate(STEPS):
        command = {"leaseId": job["leaseId"], "commandId": f"{job['jobId']}-{n}"}
        path = f"/v1/jobs/{job['jobId']}/{action}"
        status, body = await conn.send(
            token, "POST", path, json.dumps({**command, **fields}).encode()
        )
        if status != 200:
            raise RuntimeError(f"POST {path} answered {status}: {body[:200]!r}")


CLIENTS: dict[str, Clients | None] = {
    "one job per request": Clients(submit_one_by_one, work_one_by_one),
    "batched": Clients(submit_batched, work_batched),
    "batched claims only": Clients(submit_batched, functools.partial(work_batched, alone=True)),
}
# The modes an earlier commit's server can run: POST /v1/jobs/commands came after 3e4eab1
# (its "batched claims only" row is the one to set beside this tree's "batched").
EARLIER_MODES = ("one job per request", "batched claims only")


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set for this process (and the servers it starts), restored afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def serving_postgres(
    folder: Path, database: str
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """``jobledger serve`` on a fresh schema of ``database`` (its development key in
    ``folder``), healthy; stopped afterwards. While it runs, ``bench_api.mint`` signs
    tokens it accepts."""
    schema = f"jobledger_{uuid4().hex[:10]}"
    variables = {"JOBLEDGER_PG_SCHEMA": schema, "JOBLEDGER_STATE_DIR": str(folder)}
    port, log = free_port(), folder / "serve.log"
    with environment(variables), log.open("wb") as out:
        server = subprocess.Popen(
            [JOBLEDGER, "serve", "--port", str(port), "--db", database],
            stdout=out,
            stderr=out,
        )
        try:
            asyncio.run(wait_healthy(port, server, log))
            yield database, port, server
        finally:
            stop(server)


def run(
    store: str, clients: Clients, code: Path | None = None, processes: int = 1
) -> Callable[[Workload], Outcome]:
    """A runner of the workload on ``store`` ("sqlite" or "postgres"); the server runs
    ``code`` (an earlier commit's packages, ``bench_versus.unpack``) when given, as
    ``serve --processes`` (SQLite) when ``processes`` is more than 1, its CPU then that
    of every process it runs."""

    def measure(workload: Workload) -> Outcome:
        folder = workload.folder / f"jobledger-{store}-{uuid4().hex[:8]}"
        folder.mkdir()
        postgres = store == "postgres"
        outcome = Outcome()
        served = (
            serving_postgres(folder, workload.database) if postgres else serving(folder, processes)
        )
        older = environment({"PYTHONPATH": str(code)} if code else {})
        with older, served as (db, port, server):
            analyst, worker = mint(db, *ANALYST), mint(db, *WORKER)
            settings = Settings.load(db=db)  # the schema, on PostgreSQL, from the environment
            before = settled_transactions(workload.database) if postgres else 0
            with Meter(workload.database, tree(server.pid)) as meter:
                phases = Phases()
                ids = asyncio.run(submit_all(clients, port, analyst, workload))
                phases.mark()
                asyncio.run(work_all(clients, port, worker, workload))
                phases.mark()
        phases.settle(outcome, meter, workers_here=False)
        if postgres:
            outcome.transactions = transactions_since(workload.database, before)
        outcome.completed = completed(settings, ids)
        return outcome

    return measure


async def submit_all(clients: Clients, port: int, token: str, workload: Workload) -> list[str]:
    shares = workload.shares(workload.clients)
    batches = await asyncio.gather(*(clients.submit(port, token, n) for n in shares))
    return [job_id for batch in batches for job_id in batch]


async def work_all(clients: Clients, port: int, token: str, workload: Workload) -> None:
    await asyncio.gather(*(clients.work(port, token, f"w{n}") for n in range(workload.workers)))


def completed(settings: Settings, ids: list[str]) -> int:
    """How many of ``ids`` the event store holds as completed, read by a new ledger."""
    ledger = build_ledger(settings, create=False)
    try:
        return sum(ledger.get(UUID(job_id)).status is JobStatus.COMPLETED for job_id in ids)
    finally:
        ledger.close()
