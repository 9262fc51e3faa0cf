"""PostgreSQL beside SQLite: append rate, projection catch-up, and API scale-out.

What it costs to move a ledger from its embedded SQLite file to a PostgreSQL server, and
what that buys:

1. Appends: lifecycle events per second through the Ledger, one save per command (as in
   ``bench_core``), on a SQLite file and on a PostgreSQL schema. Rounds alternate between
   the two stores, each round in the other order, so that noise on a shared machine hits
   both alike; the figure that matters is the ratio.
2. Catch-up: ``build_runner(ledger).catch_up()`` of all four read models over the same
   log of about 50,000 events (``bench_projections.write_log``, same seed) in each store.
   The catch-up runs in legs (``catch_up(until=...)``), alternating between the stores.
3. Scale-out: one ``jobledger project`` process with one, then two, ``jobledger serve
   --no-projections`` processes on a fresh schema, driven with POST /v1/jobs by 32
   keep-alive clients (``bench_api``'s raw-asyncio load generator), spread evenly over the
   API processes. The ratio two/one says whether a second API process adds throughput on
   this machine: appends from every process are serialized by the event table's lock, and
   PostgreSQL, the projector, the servers and the load generator all share its cores.

The server is ``JOBLEDGER_TEST_POSTGRES`` (the tests' variable), by default
``postgresql://postgres@127.0.0.1:5432/test``. Every schema is made for the run and dropped
afterwards; without a server the benchmark prints why it skipped and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.postgres.location import PostgresStore
from jobledger.domain.ledger import Ledger
from jobledger.projections.runner import ProjectionRunner
from tests.benchmarks.bench_api import (
    ANALYST,
    CLIENTS,
    JOB,
    WARM_UP_S,
    Connection,
    drive,
    free_port,
    process_cpu,
    stop,
    wait_healthy,
)
from tests.benchmarks.bench_core import ledger_lifecycles, rate
from tests.benchmarks.bench_projections import write_log

PG_URL = os.environ.get("JOBLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
APPEND_JOBS = 60  # per round and store: 480 events
APPEND_ROUNDS = 5
LOG_EVENTS = 50_000
CATCH_UP_LEGS = 4
MEASURE_S = 8.0


def pg_conninfo() -> str:
    return PostgresStore.parse(PG_URL).conninfo()


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        with psycopg.connect(pg_conninfo(), connect_timeout=3):
            return None
    except (psycopg.Error, ValueError) as error:
        return f"no PostgreSQL at {PG_URL}: {' '.join(str(error).split())}"


@contextlib.contextmanager
def pg_schema() -> Iterator[Settings]:
    """Settings for a fresh schema of its own, dropped afterwards whatever happened."""
    schema = f"bench_{uuid4().hex[:12]}"
    try:
        yield Settings(db=PG_URL, pg_schema=schema)
    finally:
        with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Ledger]:
    ledger = build_ledger(settings)
    try:
        yield ledger
    finally:
        ledger.close()


@contextlib.contextmanager
def both_stores(sqlite_file: Path) -> Iterator[dict[str, Ledger]]:
    """A ledger on a fresh SQLite file and one on a fresh PostgreSQL schema."""
    with (
        pg_schema() as settings,
        opened(settings) as postgres,
        opened(Settings(db=f"sqlite:///{sqlite_file}")) as sqlite,
    ):
        yield {"sqlite": sqlite, "postgres": postgres}


def append_rates(folder: Path) -> dict[str, float]:
    """Median events/s of each store over alternating rounds, and PG/SQLite."""
    with both_stores(folder / "append.db") as stores:
        rates: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        for round_ in range(APPEND_ROUNDS):
            order = ("sqlite", "postgres") if round_ % 2 == 0 else ("postgres", "sqlite")
            for name in order:
                ledger = stores[name]
                rates[name].append(rate(lambda: ledger_lifecycles(ledger, APPEND_JOBS)))  # noqa: B023
    sqlite, postgres = statistics.median(rates["sqlite"]), statistics.median(rates["postgres"])
    return {"sqlite": sqlite, "postgres": postgres, "ratio": postgres / sqlite}


def catch_up_rates(folder: Path) -> dict[str, float]:
    """Events/s of a full catch-up on each store, in legs that alternate between them."""
    with both_stores(folder / "log.db") as ledgers:
        runners: dict[str, ProjectionRunner] = {}
        totals: dict[str, int] = {}
        for name, ledger in ledgers.items():
            write_log(ledger, LOG_EVENTS)
            totals[name] = ledger.recorder.max_notification_id() or 0
            runners[name] = build_runner(ledger)
        seconds = dict.fromkeys(ledgers, 0.0)
        for leg in range(1, CATCH_UP_LEGS + 1):
            order = list(ledgers) if leg % 2 else list(reversed(ledgers))
            for name in order:
                until = totals[name] * leg // CATCH_UP_LEGS
                started = time.perf_counter()
                reached = runners[name].catch_up(until=until)
                seconds[name] += time.perf_counter() - started
                assert reached >= until, (name, reached, until)
    sqlite = totals["sqlite"] / seconds["sqlite"]
    postgres = totals["postgres"] / seconds["postgres"]
    return {
        "events": float(totals["sqlite"]),
        "pg_events": float(totals["postgres"]),
        "sqlite": sqlite,
        "postgres": postgres,
        "ratio": postgres / sqlite,
    }


def postgres_cpu() -> float:
    """CPU seconds used so far by every process named postgres on this machine: the
    server's backends, whoever they serve (0 when the server is elsewhere)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().split("(", 1)[1].rsplit(")", 1)[0] == "postgres":
                total += process_cpu(int(stat.parent.name))
    return total


def cpu_snapshot(
    servers: list[subprocess.Popen[bytes]], projector: subprocess.Popen[bytes]
) -> dict[str, float]:
    """CPU seconds so far of the API processes, the projector and PostgreSQL, and the
    machine's busy and total time (all cores, in clock ticks) from /proc/stat."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        ticks = [0] * 8
    return {
        "api": sum(process_cpu(server.pid) for server in servers),
        "project": process_cpu(projector.pid),
        "postgres": postgres_cpu(),
        "busy": float(sum(ticks) - ticks[3] - ticks[4]),  # all but idle and iowait
        "ticks": float(sum(ticks)),
    }


async def projector_lag(port: int, token: str) -> int:
    conn = await Connection.open(port)
    try:
        _, body = await conn.send(token, "GET", "/readyz")
    finally:
        conn.close()
    lag: int = json.loads(body)["lag"]
    return lag


def measure_apis(
    servers: list[subprocess.Popen[bytes]],
    projector: subprocess.Popen[bytes],
    ports: list[int],
    token: str,
) -> dict[str, Any]:
    """Drive the API processes on ``ports``; with what each party spent of the CPU."""
    before = cpu_snapshot(servers, projector)
    row = asyncio.run(drive(ports, token, lambda: ("POST", "/v1/jobs", JOB), seconds=MEASURE_S))
    after = cpu_snapshot(servers, projector)
    window = WARM_UP_S + MEASURE_S
    for name in ("api", "project", "postgres"):
        row[f"{name}_cpu"] = (after[name] - before[name]) / window
    ticks = after["ticks"] - before["ticks"]
    row["busy"] = (after["busy"] - before["busy"]) / ticks if ticks else 0.0
    row["lag"] = asyncio.run(projector_lag(ports[0], token))
    return row


def api_rates(folder: Path) -> dict[str, dict[str, Any]]:
    """One projector; POST /v1/jobs through one API process, then through two."""
    jobledger = str(Path(sys.executable).with_name("jobledger"))
    rows: dict[str, dict[str, Any]] = {}
    with pg_schema() as settings, contextlib.ExitStack() as cleanup:
        env = {**os.environ, "JOBLEDGER_DB": settings.db, "JOBLEDGER_PG_SCHEMA": settings.pg_schema}

        def start(name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
            """A process in ``folder`` (where the development key is), its output to a log;
            stopped, and its log closed, when ``cleanup`` unwinds."""
            log = folder / f"{name}.log"
            out = cleanup.enter_context(log.open("wb"))
            process = subprocess.Popen(
                [jobledger, *args], cwd=folder, env=env, stdout=out, stderr=out
            )
            cleanup.callback(stop, process)
            return process, log

        def serve() -> tuple[subprocess.Popen[bytes], int]:
            port = free_port()
            server, log = start(f"serve-{port}", "serve", "--no-projections", "--port", str(port))
            asyncio.run(wait_healthy(port, server, log))
            return server, port

        def check(projector: subprocess.Popen[bytes], log: Path) -> None:
            if projector.poll() is not None:
                raise RuntimeError(f"jobledger project exited:\n{log.read_text()}")

        token = subprocess.run(
            [jobledger, "token", *ANALYST],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        projector, projector_log = start("project", "project")
        first, first_port = serve()
        check(projector, projector_log)
        rows["one API process"] = measure_apis([first], projector, [first_port], token)
        second, second_port = serve()
        rows["two API processes"] = measure_apis(
            [first, second], projector, [first_port, second_port], token
        )
        check(projector, projector_log)
    return rows


def main() -> None:
    problem = postgres_problem()
    if problem is not None:
        print(f"postgresql: benchmarks skipped, {problem}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(
            "postgresql: lifecycle events appended per second, one save per command"
            f" ({APPEND_ROUNDS} alternating rounds of {APPEND_JOBS * 8:,} events, median)"
        )
        appends = append_rates(folder)
        print(f"  SQLite                    {appends['sqlite']:>9,.0f} events/s")
        print(f"  PostgreSQL                {appends['postgres']:>9,.0f} events/s")
        print(f"  ratio PG/SQLite           {appends['ratio']:>9.2f}")
        print("  note: each save is one transaction; on PostgreSQL also a round trip to the server")

        catch_up = catch_up_rates(folder)
        print(
            f"postgresql: catch-up of all four read models over {catch_up['events']:,.0f} events"
            f" ({CATCH_UP_LEGS} legs alternating between the stores)"
        )
        print(f"  SQLite                    {catch_up['sqlite']:>9,.0f} events/s")
        print(f"  PostgreSQL                {catch_up['postgres']:>9,.0f} events/s")
        print(f"  ratio PG/SQLite           {catch_up['ratio']:>9.2f}")
        print("  note: the same log (same seed) in each store; bench_projections aims at 50,000/s")

        rows = api_rates(folder)
        print(
            f"postgresql: POST /v1/jobs, {CLIENTS} keep-alive clients spread over the API"
            f" processes, {MEASURE_S:.0f} s after {WARM_UP_S:.0f} s warm-up, one `project`"
            f" ({os.cpu_count()} cores)"
        )
        print(
            f"  {'':<20} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non-2xx':>7}"
            f"   CPU: {'API':>5} {'project':>7} {'PG':>5} {'client':>6} {'machine':>8}"
            f" {'lag':>5}"
        )
        for name, row in rows.items():
            failures = row["failures"]
            split = row["per_process"]
            print(
                f"  {name:<20} {row['rate']:>7,.0f} {row['p50']:>7.1f} {row['p99']:>7.1f}"
                f" {row['max']:>7.1f} {sum(failures.values()):>7,}"
                f"        {row['api_cpu']:>5.0%} {row['project_cpu']:>7.0%}"
                f" {row['postgres_cpu']:>5.0%} {row['cpu']:>6.0%} {row['busy']:>8.0%}"
                f" {row['lag']:>5,}"
                + (f"   ({' + '.join(f'{r:,.0f}' for r in split)} req/s)" if len(split) > 1 else "")
                + (f"   {dict(failures)}" if failures else "")
            )
        one, two = rows["one API process"], rows["two API processes"]
        ratios = [two[key] / one[key] for key in ("rate", "p50", "p99")]
        print(f"  {'ratio two/one':<20} {ratios[0]:>7.2f} {ratios[1]:>7.2f} {ratios[2]:>7.2f}")
        print(
            "  note: CPU over warm-up and measurement, in cores (PG: every postgres process"
            " here; machine: share of all cores busy, whoever used them); lag: events not yet"
            " projected when the clients stopped"
        )
