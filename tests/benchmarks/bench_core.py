"""Core ledger: append rate beside plain eventsourcing, and load time of long jobs.

Each command loads its aggregate and saves once, in both variants, on SQLite
files in one temporary folder. Rounds alternate between the two so that noise
on a shared machine hits both alike; the figure that matters is the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.job import EventContext
from jobledger.domain.ledger import Ledger, utc_now
from jobledger.domain.values import Actor

ANALYST = Actor("alice", "acme")
WORKER = Actor("worker", "acme")
COMMANDS_PER_JOB = 8  # submit, claim, start, 3 x progress, usage, complete
# the lifecycle after the submit, as PlainJob moves: claim, start, 3 x progress, usage, complete
PLAIN_MOVES = (
    ("claimed", 0),
    ("running", 0),
    ("running", 30),
    ("running", 60),
    ("running", 90),
    ("running", 90),
    ("completed", 100),
)


class PlainJob(Aggregate):
    """The minimal aggregate: a status and a counter, no rules."""

    @event("Submitted")
    def __init__(self, tenant: str, job_type: str) -> None:
        self.tenant = tenant
        self.job_type = job_type
        self.status = "queued"
        self.progress = 0

    @event("Moved")
    def move(self, status: str, progress: int) -> None:
        self.status = status
        self.progress = progress


class PlainApp(Application[UUID]):
    def submit(self) -> UUID:
        job = PlainJob("acme", "graph_analysis")
        self.save(job)
        return job.id

    def move(self, job_id: UUID, status: str, progress: int = 0) -> None:
        job: PlainJob = self.repository.get(job_id)
        job.move(status, progress)
        self.save(job)


def ledger_lifecycles(ledger: Ledger, jobs: int) -> int:
    for _ in range(jobs):
        job_id = ledger.submit(ANALYST, "graph_analysis").job_id
        lease = ledger.claim(WORKER, job_id, agent="w").lease_id or ""
        ledger.start(WORKER, job_id, lease_id=lease)
        for percent in (30, 60, 90):
            ledger.report_progress(WORKER, job_id, lease_id=lease, percent=percent)
        ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=1000)
        ledger.complete(WORKER, job_id, lease_id=lease, result={"nodes": 3})
    return jobs * COMMANDS_PER_JOB


def plain_lifecycles(app: PlainApp, jobs: int) -> int:
    for _ in range(jobs):
        job_id = app.submit()
        for status, progress in PLAIN_MOVES:
            app.move(job_id, status, progress)
    return jobs * COMMANDS_PER_JOB


def rate(work: Callable[[], int]) -> float:
    started = time.perf_counter()
    events = work()
    return events / (time.perf_counter() - started)


def append_rates(folder: Path, jobs: int = 150, rounds: int = 5) -> dict[str, float]:
    ledger = build_ledger(Settings(db=f"sqlite:///{folder / 'ledger.db'}"))
    plain = PlainApp(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "plain.db")}
    )
    ledger_rates, plain_rates = [], []
    for _ in range(rounds):
        ledger_rates.append(rate(lambda: ledger_lifecycles(ledger, jobs)))
        plain_rates.append(rate(lambda: plain_lifecycles(plain, jobs)))
    ledger.close()
    plain.close()
    ledger_median, plain_median = statistics.median(ledger_rates), statistics.median(plain_rates)
    return {
        "ledger": ledger_median,
        "plain": plain_median,
        "ratio": ledger_median / plain_median,
    }


def long_job(ledger: Ledger, events: int) -> UUID:
    """A job with ``events`` events, written in batches to save time building it."""
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    lease = ledger.claim(WORKER, job_id, agent="w").lease_id or ""
    job = ledger.get(job_id)
    while job.version < events:
        for _ in range(min(500, events - job.version)):
            ctx = EventContext("worker", "acme", "bench", utc_now())
            job.heartbeat(ctx, lease_id=lease, lease_expires_at=utc_now())
        ledger.save(job)
    return job_id


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_times(
    folder: Path, lengths: tuple[int, ...] = (100, 1_000, 10_000)
) -> list[dict[str, Any]]:
    ledger = build_ledger(Settings(db=f"sqlite:///{folder / 'long.db'}"))
    rows = []
    for length in lengths:
        job_id = long_job(ledger, length)
        samples = []
        for _ in range(300):
            started = time.perf_counter()
            ledger.get(job_id)
            samples.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        replayed = None
        for domain_event in ledger.events.get(job_id):
            replayed = domain_event.mutate(replayed)
        without_snapshots = (time.perf_counter() - started) * 1000
        rows.append(
            {
                "events": length,
                "p50_ms": percentile(samples, 0.5),
                "p99_ms": percentile(samples, 0.99),
                "without_snapshots_ms": without_snapshots,
            }
        )
    ledger.close()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("core ledger: lifecycle events appended per second, one save per command (SQLite)")
        rates = append_rates(folder)
        print(f"  jobledger Ledger          {rates['ledger']:>9,.0f} events/s")
        print(f"  plain eventsourcing       {rates['plain']:>9,.0f} events/s")
        print(f"  ratio                     {rates['ratio']:>9.2f}   (aim: at least 0.70)")
        print("core ledger: time to load one job (snapshot every 100 events)")
        print(f"  {'events':>8} {'p50 ms':>8} {'p99 ms':>8} {'full replay ms':>15}")
        for row in load_times(folder):
            print(
                f"  {row['events']:>8,} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
                f" {row['without_snapshots_ms']:>15.1f}"
            )
        print("  aim: p50 and p99 under 5 ms at 10,000 events, flat in the job's length")
