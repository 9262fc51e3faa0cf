"""Projections: catch-up rate over a long log, memory, and commit-to-visible delay.

The catch-up rate is set beside reading the same notifications with nothing
projected (and with eventsourcing's own decoding only), in the same run, as ratios;
and per CPU-second, which the machine's other work disturbs less than the wall clock.
"""

from __future__ import annotations

import random
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

from jobledger.adapters.bootstrap import build_ledger, build_runner, subscribe
from jobledger.adapters.settings import Settings
from jobledger.domain.job import EventContext, Job
from jobledger.domain.ledger import Ledger, utc_now
from jobledger.domain.pricing import Tokens
from jobledger.domain.results import JobType, validate_result
from jobledger.domain.values import Actor, JobSpec
from jobledger.projections.runner import BATCH_SIZE
from tests.benchmarks.bench_core import percentile

TENANTS = ("acme", "globex")


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


def read_only(ledger: Ledger, decode: bool) -> float:
    started, position, count = time.perf_counter(), 0, 0
    while batch := ledger.recorder.select_notifications(
        start=position, limit=500, inclusive_of_start=False
    ):
        if decode:
            for notification in batch:
                ledger.mapper.to_domain_event(notification)
        position, count = batch[-1].id, count + len(batch)
    return count / (time.perf_counter() - started)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def catch_up(folder: Path, events: int) -> dict[str, float]:
    ledger = build_ledger(Settings(db=f"sqlite:///{folder / f'log-{events}.db'}"))
    write_log(ledger, events)
    total = ledger.recorder.max_notification_id() or 0
    plain = read_only(ledger, decode=False)
    decoded = read_only(ledger, decode=True)
    runner = build_runner(ledger)
    rss_before = max_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    runner.catch_up()
    projected = total / (time.perf_counter() - started)
    per_cpu_second = total / (time.process_time() - cpu_started)
    ledger.close()
    return {
        "events": total,
        "projected": projected,
        "per_cpu_second": per_cpu_second,
        "read": plain,
        "decoded": decoded,
        "rss_growth_mb": max_rss_mb() - rss_before,
    }


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
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"projections: catch-up of all four read models (SQLite, batches of {BATCH_SIZE:,})")
        print(
            f"  {'events':>8} {'projected/s':>12} {'per CPU-s':>10} {'read only/s':>12}"
            f" {'read+decode/s':>14} {'ratio to read':>14} {'to decode':>10} {'RSS growth':>11}"
        )
        for events in (50_000, 100_000):
            row = catch_up(folder, events)
            print(
                f"  {row['events']:>8,.0f} {row['projected']:>12,.0f}"
                f" {row['per_cpu_second']:>10,.0f} {row['read']:>12,.0f}"
                f" {row['decoded']:>14,.0f} {row['projected'] / row['read']:>14.2f}"
                f" {row['projected'] / row['decoded']:>10.2f} {row['rss_growth_mb']:>8.1f} MB"
            )
        print("  aim: at least 50,000 events/s; memory flat however long the log")
        delays = visibility_delays(folder)
        print("projections: commit to visible in job summaries (runner following live)")
        print(
            f"  median {statistics.median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms"
            f" over {len(delays)} submits   (aim: median under 50 ms)"
        )
