"""jobledger beside the job queues a user would pick instead (issue 12), in one run.

The workload is the same for every system: ``JOBS`` jobs submitted by 16 clients, then
16 workers take each job, mark it started and complete it with a tiny result; afterwards
every job is read back from the system's store and must be completed. jobledger runs as
a ``jobledger serve`` subprocess on SQLite and on PostgreSQL (``peer_jobledger``); the
peers are pgqueuer and procrastinate on the same PostgreSQL server and Celery with the
local Redis (``peer_queues``). Everything on PostgreSQL happens in a database made for the
run and dropped afterwards (``peer_meter``).

Rounds alternate: each runs every system once, the order rotated by one each round, so
that load from other work on the shared machine spreads over all of them; the table shows
medians. Per system:

- submissions/s: jobs / time for the 16 clients to have every job accepted;
- jobs/s: jobs / time from the workers' start until the last job is durably completed;
- CPU-s per 1,000 jobs, over both phases: the server (jobledger) or the workers (peers)
  plus the database processes serving the run (PostgreSQL backends of the bench
  database, or ``redis-server``); the load generator's own CPU is shown apart;
- transactions per job on PostgreSQL: commits and rollbacks of the bench database.

Each figure is followed by its ratio to the best peer in that column. ``--quick`` (or
``JOBLEDGER_BENCH_QUICK=1``) runs 200 jobs in one round; ``JOBLEDGER_BENCH_JOBS`` and
``JOBLEDGER_BENCH_ROUNDS`` set the sizes. ``JOBLEDGER_BENCH_REF=<commits>`` adds rows of
each commit's jobledger (its packages unpacked, as ``bench_versus`` does), to show a
change's effect side by side; ``JOBLEDGER_BENCH_ONLY=jobledger`` runs only the rows whose
system starts so.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks import peer_jobledger, peer_queues
from tests.benchmarks.bench_postgres import postgres_problem
from tests.benchmarks.earlier_tree import unpack
from tests.benchmarks.peer_meter import Outcome, Workload, bench_database

CLIENTS = 16
WORKERS = 16
JOBS = 3_000
ROUNDS = 3
QUICK_JOBS = 200
PROCESSES = int(os.environ.get("JOBLEDGER_BENCH_PROCESSES", "2"))  # API processes of a row
PEER_EXTRA = "pip install -e '.[bench]' (make bench does)"


@dataclass
class System:
    """One row of the table: a runner, or the reason it has none."""

    name: str
    mode: str
    runner: Callable[[Workload], Outcome] | None
    note: str = ""
    peer: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def remark(self) -> str:
        """The note, and the rounds that failed (on a shared server, e.g. out of
        connections)."""
        if not self.failures:
            return self.note
        failed = f"{len(self.failures)} round(s) failed: {self.failures[0]}"
        return "; ".join(text for text in (self.note, failed) if text)

    def medians(self, jobs: int) -> dict[str, float | None]:
        """The row's figures, each the median over the rounds."""
        done = self.outcomes

        def median(values: list[float]) -> float:
            return statistics.median(values)

        transactions = [o.transactions for o in done if o.transactions is not None]
        return {
            "submissions": median([jobs / o.submit_s for o in done]),
            "jobs": median([jobs / o.drain_s for o in done]),
            "cpu": median([o.system_cpu * 1000 / jobs for o in done]),
            "transactions": median([t / jobs for t in transactions]) if transactions else None,
            "client_cpu": median([o.client_cpu * 1000 / jobs for o in done]),
        }


def importable(module: str) -> str:
    """Empty when ``module`` imports, else why the row is skipped."""
    try:
        __import__(module)
    except ImportError:
        return f"skipped: {module} is not installed, {PEER_EXTRA}"
    return ""


def systems(folder: Path) -> list[System]:
    rows = []
    refs = os.environ.get("JOBLEDGER_BENCH_REF", "").split()
    codes = {ref: unpack(ref, folder / f"ref-{n}") for n, ref in enumerate(refs)}
    for store in ("sqlite", "postgres"):
        for mode, clients in peer_jobledger.CLIENTS.items():
            runner = None if clients is None else peer_jobledger.run(store, clients)
            note = "" if runner else "not built yet: the API has no batch submit or claim"
            rows.append(System(f"jobledger {store}", mode, runner, note, peer=False))
            earlier = clients is not None and mode in peer_jobledger.EARLIER_MODES
            for ref, code in codes.items() if earlier else ():
                older = peer_jobledger.run(store, clients, code)
                rows.append(System(f"jobledger {store} @{ref}", mode, older, peer=False))
    for mode in ("one job per request",):  # serve --processes N beside serve (issue 12)
        clients = peer_jobledger.CLIENTS[mode]
        assert clients is not None
        many = peer_jobledger.run("sqlite", clients, processes=PROCESSES)
        rows.insert(1, System(f"jobledger sqlite {PROCESSES} proc", mode, many, peer=False))
    for name, module, make in (
        ("pgqueuer", "pgqueuer", peer_queues.pgqueuer),
        ("procrastinate", "procrastinate", peer_queues.procrastinate),
    ):
        missing = importable(module)
        for batched, mode in ((False, "one job per request"), (True, "batched")):
            rows.append(System(name, mode, None if missing else make(batched), missing))
    redis = peer_queues.redis_problem()
    celery = None if redis else peer_queues.celery
    note = f"skipped: {redis}" if redis else ""
    rows.append(System("celery redis", "one job per request", celery, note))
    rows.append(System("celery redis", "batched", None, "no batch submit in Celery"))
    return rows


def measure(rows: list[System], jobs: int, rounds: int, folder: Path) -> None:
    runnable = [row for row in rows if row.runner is not None]
    with bench_database() as database:
        workload = Workload(jobs, CLIENTS, WORKERS, database, folder)
        for n in range(rounds):
            shift = n % len(runnable)
            for row in runnable[shift:] + runnable[:shift]:
                assert row.runner is not None
                try:
                    row.outcomes.append(row.runner(workload))
                except Exception as error:  # one failed round must not lose the others
                    traceback.print_exc()
                    row.failures.append(f"{type(error).__name__}: {' '.join(str(error).split())}")


COLUMNS = (  # key, heading, format, whether more is better
    ("submissions", "submits/s", "{:,.0f}", True),
    ("jobs", "jobs/s", "{:,.0f}", True),
    ("cpu", "CPU-s/1k jobs", "{:.2f}", False),
    ("transactions", "tx/job", "{:.1f}", False),
)


def table(rows: list[System], jobs: int) -> list[str]:
    figures = {id(row): row.medians(jobs) for row in rows if row.outcomes}
    best: dict[str, float] = {}
    for key, _, _, more in COLUMNS:
        values = [
            value
            for row in rows
            if row.peer and id(row) in figures
            if (value := figures[id(row)][key]) is not None
        ]
        if values:
            best[key] = max(values) if more else min(values)
    lines = [
        f"  {'system':<28} {'mode':<20}"
        + "".join(f" {heading:>21}" for _, heading, _, _ in COLUMNS)
        + f" {'client CPU-s/1k':>15} {'completed':>9}"
    ]
    for row in rows:
        head = f"  {row.name:<28} {row.mode:<20}"
        if id(row) not in figures:
            lines.append(f"{head} {row.remark}")
            continue
        cells = []
        for key, _, form, _ in COLUMNS:
            value = figures[id(row)][key]
            ratio = f"({value / best[key]:.2f}x)" if value is not None and best.get(key) else ""
            cells.append(f" {form.format(value) if value is not None else 'n/a':>12} {ratio:>8}")
        fewest = min(outcome.completed for outcome in row.outcomes)
        lines.append(
            head
            + "".join(cells)
            + f" {figures[id(row)]['client_cpu']:>15.2f} {fewest:>9,}"
            + (f"   {row.remark}" if row.remark else "")
        )
    return lines


def main(quick: bool = False) -> None:
    quick = quick or os.environ.get("JOBLEDGER_BENCH_QUICK") == "1"
    jobs = int(os.environ.get("JOBLEDGER_BENCH_JOBS", QUICK_JOBS if quick else JOBS))
    rounds = int(os.environ.get("JOBLEDGER_BENCH_ROUNDS", 1 if quick else ROUNDS))
    problem = postgres_problem()
    if problem is not None:
        print(f"peers: benchmark skipped, {problem}")
        return
    load, started = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = systems(Path(tmp))
        only = os.environ.get("JOBLEDGER_BENCH_ONLY")
        if only:
            rows = [row for row in rows if row.name.startswith(only)]
        measure(rows, jobs, rounds, Path(tmp))
    print(
        f"peers: {jobs:,} jobs submitted by {CLIENTS} clients, then {WORKERS} workers take,"
        f" start and complete each (tiny result), every job read back completed;"
        f" medians of {rounds} alternating round(s); ratio to the best peer in brackets"
    )
    print("\n".join(table(rows, jobs)))
    print(
        "  note: jobs/s from the workers' start to the last durable completion; CPU-s per"
        " 1,000 jobs of the server or workers and of the database processes (PostgreSQL"
        " backends of the run's database, or redis-server), over submit and drain; the"
        " load generator's own CPU apart; tx/job: commits and rollbacks of the run's"
        " database, n/a off PostgreSQL; completed: fewest jobs read back completed in a round"
    )
    cores = os.cpu_count()
    print(
        f"  load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after"
        f" ({cores} cores); {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
