"""The job queues a user would pick instead of jobledger, on the same workload.

Each runs as its documentation shows, with no tuning beyond the workload's shape:

- pgqueuer: 16 clients enqueue (one job a call, or lists of ``SUBMIT_BATCH``); 16
  ``QueueManager``s, one connection each (the clients' connections, reused), take the
  jobs one at a time or ``DEQUEUE_BATCH`` at a time (pgqueuer's default), and are shut
  down once every job is logged. Dequeuing marks a job picked (started); the entrypoint
  returns and the job is logged ``successful``. pgqueuer keeps no result, so there is none.
- procrastinate: 16 clients ``defer_async`` (or ``batch_defer_async`` lists) through one
  pool; one worker with ``concurrency=16`` and ``wait=False`` drains the queue. Fetching
  marks a job ``doing``; the task returns its result, which procrastinate does not keep,
  and the job ends ``succeeded``.
- Celery with Redis as broker and result backend: 16 client threads ``apply_async``; one
  worker process with 16 threads (``-P threads -c 16``) records ``STARTED`` and stores
  the tiny result. Celery has no batch submit.

pgqueuer's and procrastinate's workers run in this process (asyncio), so during the drain
this process's CPU is theirs; Celery's worker is a subprocess. Each peer's objects live in
a fresh schema of the bench database (Celery's in Redis keys under a prefix of the run,
deleted afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from tests.benchmarks.peer_meter import (
    Meter,
    Outcome,
    Phases,
    Workload,
    settled_transactions,
    transactions_since,
)

SUBMIT_BATCH = 100
DEQUEUE_BATCH = 10
ENTRYPOINT = "bench_complete"
PAYLOAD = b'{"investigationId": "INV-1"}'
LOGGED_SUCCESSFUL = "SELECT count(DISTINCT job_id) FROM pgqueuer_log WHERE status = 'successful'"
REPOSITORY = Path(__file__).resolve().parents[2]
Runner = Callable[[Workload], Outcome]


async def connect(database: str, schema: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        database, autocommit=True, options=f"-c search_path={schema}"
    )


async def fresh_schema(database: str, system: str) -> str:
    schema = f"{system}_{uuid4().hex[:10]}"
    async with await connect(database, "public") as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


async def count(database: str, schema: str, sql: str) -> int:
    async with await connect(database, schema) as conn:
        row = await (await conn.execute(sql)).fetchone()
    return int(row[0]) if row else 0


async def until_counted(conn: psycopg.AsyncConnection[Any], sql: str, jobs: int) -> int:
    """Poll ``sql`` every 50 ms until it counts ``jobs``: the number of polls (one
    transaction each, taken out of the system's count)."""
    polls = 0
    while True:
        polls += 1
        row = await (await conn.execute(sql)).fetchone()
        if row and row[0] >= jobs:
            return polls
        await asyncio.sleep(0.05)


def pgqueuer(batched: bool) -> Runner:
    return lambda workload: asyncio.run(_pgqueuer(workload, batched))


async def _pgqueuer(workload: Workload, batched: bool) -> Outcome:
    from pgqueuer import Job, PsycopgDriver, Queries, QueueManager

    database = workload.database
    schema = await fresh_schema(database, "pgqueuer")
    async with await connect(database, schema) as conn:
        await Queries(PsycopgDriver(conn)).install()

    async def enqueue(conn: psycopg.AsyncConnection[Any], jobs: int) -> None:
        queries = Queries(PsycopgDriver(conn))
        if not batched:
            for _ in range(jobs):
                await queries.enqueue(ENTRYPOINT, PAYLOAD)
            return
        for start in range(0, jobs, SUBMIT_BATCH):
            size = min(SUBMIT_BATCH, jobs - start)
            await queries.enqueue([ENTRYPOINT] * size, [PAYLOAD] * size, [0] * size)

    def manager(conn: psycopg.AsyncConnection[Any]) -> QueueManager:
        manager = QueueManager(Queries(PsycopgDriver(conn)))

        @manager.entrypoint(ENTRYPOINT)
        async def complete(job: Job) -> None:
            """Nothing to do; pgqueuer has no place for a result."""

        return manager

    # Worker n takes over client n's connection: half as many on a server others share.
    connections = [
        await connect(database, schema) for _ in range(max(workload.clients, workload.workers))
    ]
    clients = connections[: workload.clients]
    workers = [manager(conn) for conn in connections[: workload.workers]]
    watcher = await connect(database, schema)
    outcome = Outcome()
    before = settled_transactions(database)
    try:
        with Meter(database, []) as meter:
            phases = Phases()
            shares = workload.shares(workload.clients)
            await asyncio.gather(*(enqueue(c, n) for c, n in zip(clients, shares, strict=True)))
            phases.mark()
            running = [
                asyncio.create_task(w.run(batch_size=DEQUEUE_BATCH if batched else 1))
                for w in workers
            ]
            polls = await until_counted(watcher, LOGGED_SUCCESSFUL, workload.jobs)
            phases.mark()
            for worker in workers:
                worker.shutdown.set()
            await asyncio.gather(*running)
    finally:
        for conn in (*connections, watcher):
            await conn.close()
    phases.settle(outcome, meter, workers_here=True)
    outcome.transactions = transactions_since(database, before) - polls
    queued = await count(database, schema, "SELECT count(*) FROM pgqueuer")
    done = await count(database, schema, LOGGED_SUCCESSFUL)
    outcome.completed = done if queued == 0 else 0
    return outcome


def procrastinate(batched: bool) -> Runner:
    return lambda workload: asyncio.run(_procrastinate(workload, batched))


async def _procrastinate(workload: Workload, batched: bool) -> Outcome:
    from procrastinate import App, PsycopgConnector

    database = workload.database
    schema = await fresh_schema(database, "procrastinate")
    size = workload.clients + 2  # the clients, then the worker's fetches and its listener
    app = App(
        connector=PsycopgConnector(
            conninfo=database,
            kwargs={"options": f"-c search_path={schema}"},
            min_size=size,
            max_size=size,
        )
    )

    @app.task(name=ENTRYPOINT)
    async def complete(number: int) -> str:
        return "done"

    async def defer(jobs: int) -> None:
        if not batched:
            for number in range(jobs):
                await complete.defer_async(number=number)
            return
        for start in range(0, jobs, SUBMIT_BATCH):
            numbers = range(start, min(start + SUBMIT_BATCH, jobs))
            arguments: list[dict[str, Any]] = [{"number": n} for n in numbers]
            await complete.batch_defer_async(*arguments)

    outcome = Outcome()
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        before = settled_transactions(database)
        with Meter(database, []) as meter:
            phases = Phases()
            await asyncio.gather(*(defer(n) for n in workload.shares(workload.clients)))
            phases.mark()
            await app.run_worker_async(
                concurrency=workload.workers, wait=False, install_signal_handlers=False
            )
            phases.mark()
    phases.settle(outcome, meter, workers_here=True)
    outcome.transactions = transactions_since(database, before)
    outcome.completed = await count(
        database, schema, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
    )
    return outcome


def redis_problem() -> str | None:
    """Why Celery cannot run here (its extra missing, or no Redis), or None."""
    try:
        import redis

        from tests.benchmarks.peer_celery import REDIS_URL
    except ImportError as error:
        return f"{error.name} is not installed (pip install -e '.[bench]')"
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        return f"no Redis at {REDIS_URL} ({error})"
    return None


def redis_pid() -> list[int]:
    """The local ``redis-server``, whose CPU counts as the broker's (none if it is remote)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "redis-server":
                return [int(comm.parent.name)]
    return []


def celery(workload: Workload) -> Outcome:
    from tests.benchmarks.peer_celery import PREFIX_VARIABLE, RESULT, TASK, make_app

    prefix = f"jobledger-bench-{uuid4().hex[:10]}:"
    app = make_app(prefix)
    node = f"bench-{uuid4().hex[:8]}@{socket.gethostname()}"
    log = (workload.folder / f"celery-{node}.log").open("wb")
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "tests.benchmarks.peer_celery", "worker"),
            *("-P", "threads", "-c", str(workload.workers), "-n", node, "-Q", "idle"),
            *("--without-gossip", "--without-mingle", "--loglevel", "WARNING"),
        ],
        cwd=REPOSITORY,
        env={**os.environ, PREFIX_VARIABLE: prefix},
        stdout=log,
        stderr=log,
    )
    outcome = Outcome()
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[node], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start: see {log.name}")
        with Meter(workload.database, [worker.pid, *redis_pid()]) as meter:
            phases = Phases()

            def submit(jobs: int) -> list[str]:
                return [app.send_task(TASK, args=(n,), queue="jobs").id for n in range(jobs)]

            with ThreadPoolExecutor(workload.clients) as pool:
                shares = pool.map(submit, workload.shares(workload.clients))
                ids = [task_id for share in shares for task_id in share]
            phases.mark()
            app.control.add_consumer("jobs", destination=[node], reply=True)
            outcome.completed = completed(app, ids, RESULT)
            phases.mark()
        phases.settle(outcome, meter, workers_here=False)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        client = app.backend.client
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        app.close()
    return outcome


def completed(app: Any, ids: list[str], result: str, timeout: float = 300.0) -> int:
    """Wait until every task's result is stored; how many succeeded with ``result``. Polls
    the result keys still pending every 50 ms."""
    client, pending, done = app.backend.client, list(ids), 0
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        keys = [app.backend.get_key_for_task(task_id) for task_id in pending]
        still = []
        for task_id, value in zip(pending, client.mget(keys), strict=True):
            meta = json.loads(value) if value else {}
            if meta.get("status") in ("SUCCESS", "FAILURE"):
                done += meta["status"] == "SUCCESS" and meta.get("result") == result
            else:
                still.append(task_id)
        pending = still
        if pending:
            time.sleep(0.05)
    return done
