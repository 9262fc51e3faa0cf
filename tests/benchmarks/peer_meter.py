"""What a job costs, measured the same way for jobledger and for its peers.

A run happens in a PostgreSQL database made for the whole benchmark (``bench_database``),
so that the database's counters hold nothing but the system being measured:

- transactions: ``xact_commit + xact_rollback`` of that database in ``pg_stat_database``,
  read once the system has been idle for longer than PostgreSQL's stats flush interval
  (1 s) and again after its processes and connections have gone (a backend flushes its
  counters when it exits). What the meter reads comes from the ``test`` database, so its
  own queries are not counted.
- CPU: user + system time from ``/proc/PID/stat`` of the processes the run names (the
  ``jobledger serve`` process, a Celery worker, ``redis-server``) and of every PostgreSQL
  backend connected to the bench database, sampled every 0.2 s so that backends that come
  and go are caught (a backend that lives less than one sample is missed). PostgreSQL's
  shared background processes (WAL writer, checkpointer, autovacuum) are not counted.
  Counting starts once the system is ready: the start of ``jobledger serve`` and of the
  Celery worker is left out, the start of pgqueuer's and procrastinate's in-process
  workers (a few queries each) is in. The sampling thread's own CPU falls to this process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import psycopg

from tests.benchmarks.bench_postgres import PG_URL, pg_conninfo, process_cpu

SAMPLE_S = 0.2
STATS_FLUSH_S = 1.2  # a backend idle this long has flushed its counters (PostgreSQL 15+)


@dataclass(frozen=True)
class Workload:
    """The same for every system: ``jobs`` submitted by ``clients``, then ``workers`` take,
    start and complete them; ``database`` is the URL of the bench database."""

    jobs: int
    clients: int
    workers: int
    database: str
    folder: Path

    def shares(self, parts: int) -> list[int]:
        """``jobs`` split as evenly as can be into ``parts``."""
        return [self.jobs // parts + (n < self.jobs % parts) for n in range(parts)]


@dataclass
class Outcome:
    """One system's run: seconds of each phase, CPU seconds and what was verified."""

    submit_s: float = 0.0
    drain_s: float = 0.0
    system_cpu: float = 0.0  # server or worker processes and database processes
    client_cpu: float = 0.0  # the load generator (this process, less any workers in it)
    transactions: int | None = None  # None when the system keeps no state in PostgreSQL
    completed: int = 0  # jobs found completed afterwards, read back from the store


def database_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A database of its own for the run, dropped afterwards: its URL."""
    name = f"jobledger_bench_{uuid4().hex[:10]}"
    with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def transactions(database: str) -> int:
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_disconnected(database: str, timeout: float = 30.0) -> None:
    """Until no backend serves ``database``: each has flushed its counters on exit."""
    name = database.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
            if row is None or row[0] == 0:
                return
            time.sleep(0.05)
    raise RuntimeError(f"connections to {name} still open after {timeout:.0f} s")


class Meter:
    """CPU of named processes and of the bench database's backends, between ``begin`` and
    ``end``; a thread samples them so short-lived backends count too."""

    def __init__(self, database: str, pids: list[int]) -> None:
        self.database = database.rsplit("/", 1)[1]
        self.pids = pids
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> Meter:
        with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
            self._sample(conn, baseline=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join()

    @property
    def cpu(self) -> float:
        """CPU seconds of the watched processes since the meter started."""
        return sum(self.last[pid] - self.first.get(pid, 0.0) for pid in self.last)

    def _sample_until_stopped(self) -> None:
        with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
            while not self.stopping.wait(SAMPLE_S):
                self._sample(conn, baseline=False)
            self._sample(conn, baseline=False)

    def _sample(self, conn: psycopg.Connection[tuple[int]], *, baseline: bool) -> None:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
        ).fetchall()
        for pid in [*self.pids, *(row[0] for row in backends)]:
            cpu = process_cpu(pid)
            if baseline:
                self.first[pid] = cpu
            if cpu:  # 0 once the process has gone: keep what was last seen
                self.last[pid] = max(cpu, self.last.get(pid, 0.0))


def settled_transactions(database: str) -> int:
    """The bench database's transactions so far, once the open connections have been idle
    long enough to flush their counters."""
    time.sleep(STATS_FLUSH_S)
    return transactions(database)


def transactions_since(database: str, before: int) -> int:
    """Transactions since ``before``, once every connection to the database has closed."""
    wait_disconnected(database)
    return transactions(database) - before


class Phases:
    """Wall-clock and this process's CPU time at the start, after the submissions and after
    the drain; ``settle`` books them into an outcome."""

    def __init__(self) -> None:
        self.marks = [(time.perf_counter(), time.process_time())]

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def settle(self, outcome: Outcome, meter: Meter, *, workers_here: bool) -> None:
        """``workers_here``: the peer's workers ran in this process, so its CPU during the
        drain is the system's, not the load generator's."""
        (start, cpu0), (submitted, cpu1), (drained, cpu2) = self.marks
        outcome.submit_s, outcome.drain_s = submitted - start, drained - submitted
        outcome.system_cpu = meter.cpu + (cpu2 - cpu1 if workers_here else 0.0)
        outcome.client_cpu = cpu1 - cpu0 + (0.0 if workers_here else cpu2 - cpu1)
