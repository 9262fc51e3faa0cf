"""Simulated analysts and workers, talking to a jobledger server over HTTP.

They use the Python client (``jobledger.adapters.client``) as real services would:
analysts submit and cancel; workers claim, report progress, findings and usage
under their lease, and complete or fail. Some attempts fail and are retried after
their back-off; one job is cancelled while running and one while queued.
``jobledger demo`` runs one round against a server of its own and prints the
totals; ``jobledger serve --demo`` runs rounds until the server stops.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobledger.adapters.auth.keys import mint_token
from jobledger.adapters.bootstrap import read_pool
from jobledger.adapters.cli.render import money, status_text
from jobledger.adapters.cli.reports import caught_up
from jobledger.adapters.cli.samples import sample_result
from jobledger.adapters.client import (
    Agent,
    ApiError,
    ClaimedJob,
    JobledgerClient,
    Unavailable,
    Worker,
)
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.read_store import StatsQuery, ask
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import TERMINAL, JobStatus
from jobledger.domain.results import JobType

TENANTS = {
    "acme-bank": (["alice@acme", "bob@acme"], ["INV-1042", "INV-1057", "INV-1063"]),
    "globex-insurance": (["carol@globex", "dan@globex"], ["CLM-88", "CLM-91"]),
}
UNPRICED_MODEL = "local-llama-3-70b"


@dataclass
class DemoRun:
    """One round: the server, who submitted which job, and how many have ended."""

    url: str
    settings: Settings
    rng: random.Random
    pause: float
    models: list[str]
    submitted: dict[str, tuple[str, str]] = field(default_factory=dict)  # job -> tenant, analyst
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self, tenant: str, role: str, subject: str) -> JobledgerClient:
        token = mint_token(
            self.settings,
            tenant=tenant,
            roles=[role],
            subject=subject,
            ttl=timedelta(hours=8),
            now=datetime.now(UTC),
        )
        return JobledgerClient(self.url, token)

    def done(self) -> bool:
        with self.lock:
            return self.stop.is_set() or self.finished >= len(self.submitted)

    def mark_finished(self) -> None:
        with self.lock:
            self.finished += 1

    def nap(self, scale: float = 1.0) -> None:
        self.stop.wait(self.rng.uniform(0.5, 1.5) * self.pause * scale)


def submit_jobs(run: DemoRun, count: int) -> None:
    types = list(JobType)
    tenants = list(TENANTS)
    for n in range(count):
        tenant = tenants[n % len(tenants)]
        analysts, investigations = TENANTS[tenant]
        analyst = run.rng.choice(analysts)
        with run.client(tenant, "analyst", analyst) as client:
            job = client.submit(
                types[n % len(types)].value,
                investigation_id=run.rng.choice(investigations),
                priority=run.rng.randint(1, 9),
                max_attempts=3,
                inputs=[
                    {
                        "name": f"evidence-{n:03}.jsonl",
                        "mediaType": "application/jsonl",
                        "sizeBytes": run.rng.randint(10_000, 5_000_000),
                    }
                ],
                metadata={"source": "demo"},
            )
        run.submitted[job["id"]] = (tenant, analyst)


class DemoWorker:
    """One simulated worker, serving every tenant in turn through the worker API."""

    def __init__(self, run: DemoRun, name: str, progress: Progress, overall: TaskID) -> None:
        self.run = run
        self.name = name
        self.progress = progress
        self.overall = overall
        self.bar = progress.add_task(f"{name}: idle", total=100)
        self.rng = random.Random(run.rng.random())
        agent = Agent(name, lease_seconds=60)
        self.workers = [
            Worker(run.client(tenant, "worker", f"{name}@{tenant}"), agent) for tenant in TENANTS
        ]

    def loop(self) -> None:
        try:
            while not self.run.done():
                idle = True
                for worker in self.workers:
                    job = self._claim(worker)
                    if job is not None:
                        idle = False
                        self.run_job(job)
                if idle:
                    self.run.stop.wait(0.2)
        finally:
            for worker in self.workers:
                worker.client.close()
        self.progress.update(self.bar, description=f"{self.name}: done", completed=100)

    def _claim(self, worker: Worker) -> ClaimedJob | None:
        try:
            return worker.claim()
        except (ApiError, Unavailable) as error:  # the server went away: say so, look again
            self.say(f"[red]claim failed: {error}[/red]")
            return None

    def run_job(self, job: ClaimedJob) -> None:
        try:
            with job:
                self.work(job)
        except (ApiError, Unavailable) as error:  # e.g. the lease ran out while the server was away
            self.say(f"[red]{job.task.job_id[:8]}: {error}[/red]")
            if job.task.status in TERMINAL:
                self.finish(job.task.job_id, None)

    def work(self, job: ClaimedJob) -> None:
        task = job.task
        label = f"{self.name}: {task.job_type} {task.job_id[:8]} (attempt {task.attempt})"
        self.progress.update(self.bar, description=label, completed=0)
        job.start()
        fail_at = self.rng.choice([None, None, None, None, None, 40, 70])
        for percent in (10, 25, 40, 55, 70, 85, 95):
            self.run.nap()
            if job.cancellation_requested:
                job.acknowledge_cancellation()
                self.finish(task.job_id, "[magenta]cancelled[/magenta] by its analyst")
                return
            if fail_at == percent:
                self.fail(job)
                return
            job.progress(percent, f"processed {percent}% of the evidence")
            job.findings(entities=percent // 5, anomalies=percent // 40)
            if percent in (25, 70):
                self.charge_tokens(job)
            self.progress.update(self.bar, completed=percent)
        job.validation()
        job.upload()
        job.complete(sample_result(JobType(task.job_type), self.rng))
        self.progress.update(self.bar, completed=100)
        self.finish(task.job_id, None)

    def charge_tokens(self, job: ClaimedJob) -> None:
        job.usage(
            self.rng.choice([*self.run.models, UNPRICED_MODEL]),
            input_tokens=self.rng.randint(20_000, 400_000),
            output_tokens=self.rng.randint(1_000, 30_000),
            cached_input_tokens=self.rng.randint(0, 100_000),
        )

    def fail(self, job: ClaimedJob) -> None:
        retryable = self.rng.random() < 0.8
        code, message = (
            ("rate_limited", "model provider answered 429")
            if retryable
            else ("corrupt_input", "evidence file is not valid JSON Lines")
        )
        answer = job.fail(code, message, retryable=retryable)
        if answer["status"] == JobStatus.QUEUED.value:
            self.say(
                f"{job.task.job_id[:8]} {code}; attempt {answer['attempt']} "
                f"may start at {answer['notBefore']}"
            )
        else:
            self.finish(job.task.job_id, f"[red]failed[/red] ({code})")

    def say(self, note: str) -> None:
        self.progress.console.print(f"{self.name}: {note}")

    def finish(self, job_id: str, note: str | None) -> None:
        if note:
            self.say(f"{job_id[:8]} {note}")
        self.run.mark_finished()
        self.progress.advance(self.overall)


def analyst_cancels(run: DemoRun, progress: Progress, overall: TaskID) -> None:
    """An analyst changes her mind: one job while it runs, one still queued."""
    run.nap(scale=6)
    picked: dict[str, str] = {}
    for job_id, (tenant, analyst) in list(run.submitted.items()):
        with run.client(tenant, "analyst", analyst) as client:
            status = client.get(job_id)["status"]
        if status in ("running", "queued") and status not in picked:
            picked[status] = job_id
    for status, reason in (("running", "wrong corpus"), ("queued", "duplicate")):
        chosen = picked.get(status)
        if chosen is None:
            continue
        tenant, analyst = run.submitted[chosen]
        with run.client(tenant, "analyst", analyst) as client, contextlib.suppress(ApiError):
            if client.cancel(chosen, reason)["status"] == JobStatus.CANCELLED.value:
                run.mark_finished()  # nobody held it: cancelled at once
                progress.advance(overall)


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


def run_round(run: DemoRun, console: Console, *, jobs: int, workers: int) -> None:
    """Submit ``jobs`` and let ``workers`` run them all to an end (or until ``run.stop``)."""
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
        crew = [DemoWorker(run, f"worker-{n + 1}", progress, overall) for n in range(workers)]
        threads = [threading.Thread(target=w.loop, name=w.name) for w in crew]
        canceller = threading.Thread(
            target=analyst_cancels, args=(run, progress, overall), name="analyst"
        )
        for thread in (*threads, canceller):
            thread.start()
        for thread in (*threads, canceller):
            thread.join()


def wait_until_serving(url: str, stop: threading.Event, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return True
        stop.wait(0.1)
    return False


def run_traffic(
    url: str, settings: Settings, models: list[str], stop: threading.Event, speed: float = 1.0
) -> None:
    """Demo traffic behind ``jobledger serve --demo``: rounds of jobs until ``stop``."""
    if not wait_until_serving(url, stop):
        return
    rng = random.Random()
    quiet = Console(quiet=True)
    while not stop.is_set():
        run = DemoRun(url, settings, rng, pause=0.25 / speed, models=models, stop=stop)
        with contextlib.suppress(ApiError, Unavailable):  # the server is stopping
            run_round(run, quiet, jobs=8, workers=3)
        stop.wait(2.0)


def run_demo(
    url: str,
    settings: Settings,
    ledger: Ledger,
    console: Console,
    *,
    jobs: int,
    workers: int,
    seed: int | None,
    speed: float,
) -> None:
    models = sorted(ledger.price_book.models)
    run = DemoRun(url, settings, random.Random(seed), pause=0.25 / speed, models=models)
    run_round(run, console, jobs=jobs, workers=workers)
    console.print(summary_table(ledger))
    console.print("More: jobledger stats, jobledger costs --by model")
    first = next(iter(run.submitted))
    console.print(f"Look closer: jobledger show {first}")
