"""Projections: catch-up rate over a long log, memory, and commit-to-visible delay.

Each catch-up runs in a process of its own (``catch_up_child``) over a log written once:
on SQLite at two lengths (peak RSS must not grow with the length) and on PostgreSQL when
a server answers (``JOBLEDGER_TEST_POSTGRES``). With ``JOBLEDGER_BENCH_REF=<commit>`` the
same logs are also projected by that commit's packages (unpacked as ``bench_versus``
does), the two taking turns, each round in the other order, so the machine's other work
hits both alike; read the ratios. Rates are per wall-clock second and per CPU-second
(which other work disturbs less). ``JOBLEDGER_BENCH_ROUNDS`` sets the rounds (3).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification

from jobledger.adapters.bootstrap import build_ledger, build_runner, subscribe
from jobledger.adapters.settings import Settings
from jobledger.domain.job import EventContext, Job
from jobledger.domain.ledger import Ledger, utc_now
from jobledger.domain.pricing import Tokens
from jobledger.domain.results import JobType, validate_result
from jobledger.domain.values import Actor, JobSpec
from jobledger.projections.catalog import PROJECTIONS
from jobledger.projections.decoding import EventDecoder
from jobledger.projections.runner import BATCH_SIZE
from tests.benchmarks.bench_core import percentile
from tests.benchmarks.earlier_tree import REPOSITORY, unpack

TENANTS = ("acme", "globex")
SIZES = (50_000, 100_000)
ROUNDS = int(os.environ.get("JOBLEDGER_BENCH_ROUNDS", "3"))
THIS_TREE = "this tree"


def write_log(ledger: Ledger, events: int, seed: int = 1) -> None:
    """A realistic mix: jobs that progress, spend, sometimes retry, and finish."""
    rng = random.Random(seed)
    written = 0
    while written < events:
        jobs = []
        for _ in range(100):
            tenant = rng.choice(TENANTS)
            job_type = rng.choice(list(JobType))

            def ctx() -> EventContext:
                return EventContext("bench", tenant, "c", utc_now())  # noqa: B023

            spec = JobSpec(job_type=job_type.value, investigation_id=f"INV-{rng.randint(1, 20)}")
            job = Job.submit(ctx(), spec, job_type)
            for attempt in range(rng.choice([1, 1, 1, 2])):
                lease = f"lease-{attempt}"
                job.claim(ctx(), agent="w", pool=None, lease_id=lease, lease_expires_at=utc_now())
                job.start(ctx(), lease_id=lease)
                for percent in (20, 40, 60, 80):
                    job.report_progress(ctx(), lease_id=lease, percent=percent)
                    tokens = Tokens(rng.randint(1, 10**5), rng.randint(1, 10**4), 0)
                    model = rng.choice(["gpt-4o", "claude-sonnet-4", "local"])
                    charge = ledger.price_book.charge(model, tokens)
                    job.record_usage(
                        ctx(), lease_id=lease, model=model, tokens=tokens, charge=charge
                    )
                if job.attempts_left > 0 and rng.random() < 0.3:
                    job.fail(
                        ctx(), lease_id=lease, code="rate_limited", message="429", retryable=True
                    )
                    continue
                result = validate_result(job_type, {})
                job.complete(ctx(), lease_id=lease, result=result)
                break
            jobs.append(job)
            written += len(job.pending_events)
        ledger.save(*jobs)


def read_only(ledger: Ledger, decode: Callable[[Notification], object] | None) -> float:
    started, position, count = time.perf_counter(), 0, 0
    while batch := ledger.recorder.select_notifications(
        start=position, limit=500, inclusive_of_start=False
    ):
        if decode is not None:
            for notification in batch:
                decode(notification)
        position, count = batch[-1].id, count + len(batch)
    return count / (time.perf_counter() - started)


@dataclass(frozen=True)
class Log:
    """A written log to project: a SQLite file (copied afresh for each run) or a schema."""

    store: str
    db: str
    events: int
    schema: str | None = None


def run_child(log: Log, code: Path | None, folder: Path) -> dict[str, Any]:
    """One catch-up in a fresh process, with ``code``'s packages (None: this tree's)."""
    args = [log.db] if log.schema is None else [log.db, log.schema]
    if log.schema is None:
        copy = folder / "run.db"
        for leftover in folder.glob("run.db-*"):  # a stale WAL would be read into the copy
            leftover.unlink()
        shutil.copyfile(log.db.removeprefix("sqlite:///"), copy)
        args = [f"sqlite:///{copy}"]
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.catch_up_child", *args],
        cwd=REPOSITORY,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def sqlite_log(folder: Path, events: int) -> Log:
    db = f"sqlite:///{folder / f'log-{events}.db'}"
    ledger = build_ledger(Settings(db=db))
    write_log(ledger, events)
    total = ledger.recorder.max_notification_id() or 0
    ledger.close()
    return Log("SQLite", db, total)


@contextlib.contextmanager
def postgres_log(events: int) -> Iterator[Log | None]:
    """The same log in a fresh PostgreSQL schema (None without a server)."""
    from tests.benchmarks import bench_postgres  # it imports this module

    if bench_postgres.postgres_problem() is not None:
        yield None
        return
    with bench_postgres.pg_schema() as settings, bench_postgres.opened(settings) as ledger:
        write_log(ledger, events)
        total = ledger.recorder.max_notification_id() or 0
        yield Log("PostgreSQL", settings.db, total, settings.pg_schema)


def versus(logs: list[Log], refs: dict[str, Path | None], folder: Path) -> None:
    """Each log projected by each tree in turn, the order alternating each round."""
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for round_ in range(ROUNDS):
        for n, log in enumerate(logs):
            names = list(refs) if (round_ + n) % 2 == 0 else list(refs)[::-1]
            for name in names:
                runs.setdefault((n, name), []).append(run_child(log, refs[name], folder))
    print(
        f"  {'store':<10} {'events':>8} {'code':<10} {'events/s':>9} {'per CPU-s':>10}"
        f" {'peak RSS':>9} {'catch-up adds':>14}   (medians of {ROUNDS} runs)"
    )
    for n, log in enumerate(logs):
        medians = {}
        for name in refs:
            rows = runs[(n, name)]
            medians[name] = {
                "rate": statistics.median(r["events"] / r["wall"] for r in rows),
                "cpu": statistics.median(r["events"] / r["cpu"] for r in rows),
                "rss": statistics.median(r["rss_peak"] for r in rows),
                "growth": statistics.median(r["rss_peak"] - r["rss_before"] for r in rows),
            }
            m = medians[name]
            print(
                f"  {log.store:<10} {log.events:>8,} {name:<10} {m['rate']:>9,.0f}"
                f" {m['cpu']:>10,.0f} {m['rss']:>6,.0f} MB {m['growth']:>11,.0f} MB"
            )
        if len(refs) > 1:
            new, old = medians[THIS_TREE], medians[next(iter(refs))]
            print(
                f"  {'':<10} {'':>8} {'ratio':<10} {new['rate'] / old['rate']:>9.2f}"
                f" {new['cpu'] / old['cpu']:>10.2f}   (this tree / {next(iter(refs))})"
            )


def visibility_delays(folder: Path, samples: int = 200) -> list[float]:
    ledger = build_ledger(Settings(db=f"sqlite:///{folder / 'live.db'}"))
    runner = build_runner(ledger)
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(subscribe(ledger), stop, 1.0))
    follower.start()
    delays = []
    try:
        for _ in range(samples):
            outcome = ledger.submit(Actor("a", "acme"), "graph_analysis")
            committed = time.perf_counter()
            assert outcome.position is not None
            runner.wait_for(outcome.position, timeout=10)
            delays.append((time.perf_counter() - committed) * 1000)
            time.sleep(0.005)
    finally:
        stop.set()
        follower.join()
        ledger.close()
    return delays


def main() -> None:
    ref = os.environ.get("JOBLEDGER_BENCH_REF", "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        refs: dict[str, Path | None] = {}
        if ref:
            refs[ref] = unpack(ref, folder / "ref")
        refs[THIS_TREE] = None
        print(
            f"projections: catch-up of all {len(PROJECTIONS)} read models, a fresh process"
            f" each run (batches of {BATCH_SIZE:,}); JOBLEDGER_BENCH_REF={ref or '(none)'}"
        )
        logs = [sqlite_log(folder, events) for events in SIZES]
        with postgres_log(SIZES[0]) as pg:
            versus([*logs, *([pg] if pg else [])], refs, folder)
        if pg is None:
            print("  PostgreSQL: skipped, no server")
        print("  aim: at least 50,000 events/s; peak RSS the same however long the log")
        ledger = build_ledger(Settings(db=logs[0].db))
        fast = EventDecoder(ledger.mapper)
        rates = [read_only(ledger, d) for d in (None, ledger.mapper.to_domain_event, fast)]
        ledger.close()
        print(
            f"  reading the log alone: {rates[0]:,.0f} events/s; and decoding them with"
            f" eventsourcing's mapper {rates[1]:,.0f}/s, with the runner's {rates[2]:,.0f}/s"
        )
        delays = visibility_delays(folder)
        print("projections: commit to visible in job summaries (runner following live)")
        print(
            f"  median {statistics.median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms"
            f" over {len(delays)} submits   (aim: median under 50 ms)"
        )


if __name__ == "__main__":
    main()
