"""``jobledger demo``: analysts and workers on a real ledger, with live progress.

Workers are threads that use the Ledger in-process, as a service would. Some
attempts fail and retry, one job is cancelled while running and one while
queued, and the run ends with what it cost per tenant.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobledger.adapters.bootstrap import read_pool
from jobledger.adapters.cli.render import money, status_text
from jobledger.adapters.cli.reports import caught_up
from jobledger.adapters.read_store import StatsQuery, ask
from jobledger.adapters.samples import sample_result
from jobledger.domain.errors import JobLedgerError
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.results import JobType
from jobledger.domain.values import Actor

TENANTS = {
    "acme-bank": (["alice@acme", "bob@acme"], ["INV-1042", "INV-1057", "INV-1063"]),
    "globex-insurance": (["carol@globex", "dan@globex"], ["CLM-88", "CLM-91"]),
}
UNPRICED_MODEL = "local-llama-3-70b"


@dataclass
class DemoRun:
    """The shared state of one run: the queue of job ids and who is doing what."""

    ledger: Ledger
    rng: random.Random
    pause: float
    queue: list[UUID] = field(default_factory=list)
    tenants: dict[UUID, str] = field(default_factory=dict)
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> UUID | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def put_back(self, job_id: UUID) -> None:
        with self.lock:
            self.queue.append(job_id)

    def done(self) -> bool:
        with self.lock:
            return self.finished == len(self.tenants)

    def mark_finished(self) -> None:
        with self.lock:
            self.finished += 1

    def nap(self, scale: float = 1.0) -> None:
        time.sleep(self.rng.uniform(0.5, 1.5) * self.pause * scale)


def submit_jobs(run: DemoRun, count: int) -> None:
    types = list(JobType)
    tenants = list(TENANTS)
    for n in range(count):
        tenant = tenants[n % len(tenants)]
        analysts, investigations = TENANTS[tenant]
        outcome = run.ledger.submit(
            Actor(run.rng.choice(analysts), tenant),
            types[n % len(types)].value,
            investigation_id=run.rng.choice(investigations),
            priority=run.rng.randint(1, 9),
            max_attempts=3,
            inputs=[
                {
                    "name": f"evidence-{n:03}.jsonl",
                    "media_type": "application/jsonl",
                    "size_bytes": run.rng.randint(10_000, 5_000_000),
                }
            ],
            metadata={"source": "demo"},
        )
        run.tenants[outcome.job_id] = tenant
        run.queue.append(outcome.job_id)


class Worker:
    """One simulated worker: claims, reports, charges tokens, and finishes."""

    def __init__(self, run: DemoRun, name: str, progress: Progress, overall: TaskID) -> None:
        self.run = run
        self.name = name
        self.progress = progress
        self.overall = overall
        self.bar = progress.add_task(f"{name}: idle", total=100)
        self.rng = random.Random(run.rng.random())

    def loop(self) -> None:
        while not self.run.done():
            job_id = self.run.take()
            if job_id is None:
                time.sleep(0.05)
                continue
            try:
                self.work(job_id)
            except Exception as error:  # a demo worker reports and moves on, never hangs the run
                self.finish(job_id, f"[red]gave up: {error}[/red]")
        self.progress.update(self.bar, description=f"{self.name}: done", completed=100)

    def work(self, job_id: UUID) -> None:
        run, ledger = self.run, self.run.ledger
        actor = Actor(self.name, run.tenants[job_id])
        if ledger.get(job_id).status is not JobStatus.QUEUED:
            self.finish(job_id, "cancelled while queued")
            return
        lease = ledger.claim(actor, job_id, agent=self.name, lease_seconds=60).lease_id
        assert lease is not None  # a claim always grants a lease
        job = ledger.get(job_id)
        label = f"{self.name}: {job.job_type} {str(job_id)[:8]} (attempt {job.attempt})"
        self.progress.update(self.bar, description=label, completed=0)
        ledger.start(actor, job_id, lease_id=lease)
        fail_at = self.rng.choice([None, None, None, None, None, 40, 70])
        for percent in (10, 25, 40, 55, 70, 85, 95):
            run.nap()
            if ledger.get(job_id).cancellation_requested:
                ledger.acknowledge_cancellation(actor, job_id, lease_id=lease)
                self.finish(job_id, "[magenta]cancelled[/magenta] by its analyst while running")
                return
            if fail_at == percent:
                self.fail(actor, job_id, lease)
                return
            ledger.report_progress(
                actor,
                job_id,
                lease_id=lease,
                percent=percent,
                message=f"processed {percent}% of the evidence",
                findings={"entities": percent // 5, "anomalies": percent // 40},
            )
            if percent in (25, 70):
                self.charge_tokens(actor, job_id, lease)
            if percent == 55:
                ledger.heartbeat(actor, job_id, lease_id=lease, lease_seconds=60)
            self.progress.update(self.bar, completed=percent)
        ledger.begin_validation(actor, job_id, lease_id=lease)
        ledger.begin_upload(actor, job_id, lease_id=lease)
        job_type = JobType(ledger.get(job_id).job_type)
        ledger.complete(actor, job_id, lease_id=lease, result=sample_result(job_type, self.rng))
        self.progress.update(self.bar, completed=100)
        self.finish(job_id, None)

    def charge_tokens(self, actor: Actor, job_id: UUID, lease: str) -> None:
        priced = sorted(self.run.ledger.price_book.models)
        self.run.ledger.record_usage(
            actor,
            job_id,
            lease_id=lease,
            model=self.rng.choice([*priced, UNPRICED_MODEL]),
            input_tokens=self.rng.randint(20_000, 400_000),
            output_tokens=self.rng.randint(1_000, 30_000),
            cached_input_tokens=self.rng.randint(0, 100_000),
        )

    def fail(self, actor: Actor, job_id: UUID, lease: str) -> None:
        retryable = self.rng.random() < 0.8
        code, message = (
            ("rate_limited", "model provider answered 429")
            if retryable
            else ("corrupt_input", "evidence file is not valid JSON Lines")
        )
        self.run.ledger.fail(
            actor, job_id, lease_id=lease, code=code, message=message, retryable=retryable
        )
        job = self.run.ledger.get(job_id)
        if job.status is JobStatus.QUEUED:
            self.progress.console.print(
                f"[yellow]{self.name}: {str(job_id)[:8]} {code}; queued for attempt {job.attempt}"
            )
            self.run.put_back(job_id)
        else:
            self.finish(job_id, f"[red]failed[/red] ({code})")

    def finish(self, job_id: UUID, note: str | None) -> None:
        if note:
            self.progress.console.print(f"{self.name}: {str(job_id)[:8]} {note}")
        self.run.mark_finished()
        self.progress.advance(self.overall)


def analyst_cancels(run: DemoRun) -> None:
    """An analyst changes her mind: one job while it runs, one still queued."""
    run.nap(scale=6)
    running = [j for j in run.tenants if run.ledger.get(j).status is JobStatus.RUNNING]
    with run.lock:
        queued = run.queue[-1] if run.queue else None
    for job_id, reason in (
        (running[0] if running else None, "wrong corpus"),
        (queued, "duplicate"),
    ):
        if job_id is None:
            continue
        with contextlib.suppress(JobLedgerError):  # it finished first: nothing to cancel
            run.ledger.cancel(Actor("analyst@demo", run.tenants[job_id]), job_id, reason=reason)


def summary_table(ledger: Ledger) -> Table:
    """Jobs by status, tokens and cost per tenant, read from the (caught up) read models."""
    caught_up(ledger)
    answer = ask(read_pool(ledger, size=1), lambda store: store.statistics(StatsQuery()))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    tokens: dict[str, int] = defaultdict(int)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for row in answer.value:
        for status, jobs in row.status_counts.items():
            counts[row.tenant][status] += jobs
        tokens[row.tenant] += row.input_tokens + row.output_tokens + row.cached_input_tokens
        cost[row.tenant] += row.cost
    statuses = [s.value for s in JobStatus if any(counts[t][s.value] for t in counts)]
    table = Table(
        title=f"all jobs in the ledger, by tenant (read models at position {answer.position:,})",
        title_justify="left",
    )
    table.add_column("tenant", no_wrap=True)
    for status in statuses:
        table.add_column(status_text(status), justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    for tenant in sorted(counts):
        cells = [str(counts[tenant][s]) for s in statuses]
        currency = ledger.price_book.currency
        table.add_row(tenant, *cells, f"{tokens[tenant]:,}", money(cost[tenant], currency))
    return table


def run_round(
    ledger: Ledger, console: Console, *, jobs: int, workers: int, rng: random.Random, speed: float
) -> DemoRun:
    """One round: submit ``jobs``, and let ``workers`` run them all to an end."""
    run = DemoRun(ledger=ledger, rng=rng, pause=0.25 / speed)
    submit_jobs(run, jobs)
    console.print(
        f"Submitted {jobs} jobs for {len(TENANTS)} tenants; {workers} workers start now.\n"
        f"Unpriced model in use: {UNPRICED_MODEL} (recorded with its tokens, no cost)."
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("jobs finished", total=jobs)
        crew = [Worker(run, f"worker-{n + 1}", progress, overall) for n in range(workers)]
        threads = [threading.Thread(target=w.loop, name=w.name) for w in crew]
        canceller = threading.Thread(target=analyst_cancels, args=(run,), name="analyst")
        for thread in (*threads, canceller):
            thread.start()
        for thread in (*threads, canceller):
            thread.join()
    return run


def run_traffic(ledger: Ledger, stop: threading.Event, *, speed: float = 1.0) -> None:
    """Demo traffic behind ``jobledger serve --demo``: rounds of jobs until ``stop``."""
    rng = random.Random()
    quiet = Console(quiet=True)
    while not stop.is_set():
        run_round(ledger, quiet, jobs=8, workers=3, rng=rng, speed=speed)
        stop.wait(2.0)


def run_demo(
    ledger: Ledger, console: Console, *, jobs: int, workers: int, seed: int | None, speed: float
) -> None:
    run = run_round(
        ledger, console, jobs=jobs, workers=workers, rng=random.Random(seed), speed=speed
    )
    console.print(summary_table(ledger))
    console.print("More: jobledger stats, jobledger costs --by model")
    first = next(iter(run.tenants))
    console.print(f"Look closer: jobledger show {first}")
