"""Commands that read the read models: projections, stats and costs.

``stats`` and ``costs`` first catch the projections up with the ledger, so what
they show is current (a progress bar appears when there is much to catch up).
``projections status`` does not: it shows how far behind the read models are,
which catching up first would always make zero.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from jobledger.adapters.bootstrap import build_runner, read_pool
from jobledger.adapters.cli.options import DbOption, open_ledger
from jobledger.adapters.cli.render import money
from jobledger.adapters.store.sql.read_store import (
    CostGrouping,
    CostQuery,
    ReadStore,
    StatsQuery,
    StatsRow,
    ask,
    parse_query,
)
from jobledger.domain.ledger import Ledger
from jobledger.projections.runner import ProjectionRunner

R = TypeVar("R")
projections_app = typer.Typer(help="Inspect and rebuild the read models.", no_args_is_help=True)
out = Console()
SHOW_PROGRESS_OVER = 5_000


def caught_up(ledger: Ledger) -> ProjectionRunner:
    """The runner, with every projection processed to the ledger's end now."""
    runner = build_runner(ledger)
    behind = runner.ledger_position() - min(runner.positions().values())
    if behind < SHOW_PROGRESS_OVER:
        runner.catch_up()
        return runner
    with progress_bar() as progress:
        task = progress.add_task("catching up the read models", total=runner.ledger_position())
        runner.catch_up(on_batch=lambda position: progress.update(task, completed=position))
    return runner


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@projections_app.command("status")
def projections_status(db: DbOption = None) -> None:
    """Each read model's position in the ledger's log and how far behind it is, as they
    stand (without catching them up): a growing lag means nothing keeps them current."""
    runner = build_runner(open_ledger(db, create=False))
    table = Table("projection", "position", "ledger position", "lag", box=box.SIMPLE_HEAD)
    for column in table.columns[1:]:
        column.justify = "right"
    for status in runner.status():
        table.add_row(
            status.name, f"{status.position:,}", f"{status.ledger_position:,}", f"{status.lag:,}"
        )
    out.print(table)


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection; all if left out")] = None,
    db: DbOption = None,
) -> None:
    """Drop read models and replay the ledger into them. Safe to interrupt."""
    runner = build_runner(open_ledger(db, create=False))
    names = [runner.projection(name).name] if name else list(runner.projections)
    end = runner.ledger_position()
    try:
        with progress_bar() as progress:
            for each in names:
                task = progress.add_task(f"rebuilding {each}", total=end)

                def advance(position: int, task: TaskID = task) -> None:
                    progress.update(task, completed=position)

                runner.rebuild(each, on_batch=advance)
                progress.update(task, completed=end)
    except KeyboardInterrupt:
        print(
            "interrupted: the projection being rebuilt is consistent up to where it got and the "
            "next command catches it up; projections after it were left as they were",
            file=sys.stderr,
        )
        raise typer.Exit(130) from None
    out.print(f"rebuilt {', '.join(names)} from {end:,} events")


Day = Annotated[str | None, typer.Option(help="UTC date, YYYY-MM-DD (inclusive)")]


def current(db: str | None, question: Callable[[ReadStore], Awaitable[R]]) -> tuple[Ledger, R]:
    """Catch the read models up with the ledger, then ask them."""
    ledger = open_ledger(db, create=False)
    caught_up(ledger)
    return ledger, ask(read_pool(ledger, size=1), question)


def stats(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Only this job type")] = None,
    since: Day = None,
    until: Day = None,
    db: DbOption = None,
) -> None:
    """Jobs by status, throughput, durations, tokens and cost, per tenant and type."""
    query = parse_query(StatsQuery, tenant=tenant, job_type=job_type, since=since, until=until)
    ledger, answer = current(db, lambda store: store.statistics(query))
    for table in stats_tables(answer.value, ledger.price_book.currency, answer.position):
        out.print(table)


def stats_tables(rows: list[StatsRow], currency: str, position: int) -> list[Table]:
    """Two tables that fit a terminal, rows grouped by tenant: jobs, then tokens and cost."""
    jobs = Table(
        title=f"jobs at log position {position:,}", title_justify="left", box=box.SIMPLE_HEAD
    )
    usage = Table(title="tokens and cost", title_justify="left", box=box.SIMPLE_HEAD)
    jobs.add_column("tenant, type", no_wrap=True)
    usage.add_column("tenant, type", no_wrap=True)
    for column in (
        "queued",
        "working",
        "done",
        "failed",
        "cancel",
        "fail%",
        "run p50",
        "run p95",
        "wait p50",
    ):
        jobs.add_column(column, justify="right")
    for column in ("input", "output", "cached", "cost", "unpriced"):
        usage.add_column(column, justify="right")
    tenant = None
    for row in rows:
        if row.tenant != tenant:
            tenant = row.tenant
            jobs.add_row(f"[bold]{tenant}[/bold]")
            usage.add_row(f"[bold]{tenant}[/bold]")
        rate = "-" if row.failure_rate is None else f"{row.failure_rate:.0%}"
        jobs.add_row(
            f"  {row.job_type}",
            *(
                str(n)
                for n in (row.queue_depth, row.working, row.completed, row.failed, row.cancelled)
            ),
            rate,
            seconds(row.run_ms_p50),
            seconds(row.run_ms_p95),
            seconds(row.queue_wait_ms_p50),
        )
        usage.add_row(
            f"  {row.job_type}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.cached_input_tokens:,}",
            money(row.cost, currency),
            str(row.unpriced_usages),
        )
    return [jobs, usage]


def seconds(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}s"


def costs(
    by: Annotated[CostGrouping, typer.Option(help="Group by")] = "tenant",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    since: Day = None,
    until: Day = None,
    db: DbOption = None,
) -> None:
    """What was spent, grouped one way; spend on attempts that did not succeed apart."""
    query = parse_query(CostQuery, group_by=by, tenant=tenant, since=since, until=until)
    ledger, answer = current(db, lambda store: store.costs(query))
    currency = ledger.price_book.currency
    table = Table(
        title=f"costs by {by} at log position {answer.position:,}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in (
        by,
        "usages",
        "input",
        "output",
        "cached",
        "cost",
        "failed attempts",
        "unpriced",
    ):
        table.add_column(column, justify="left" if column == by else "right")
    for total in answer.value:
        table.add_row(
            total.key or "(none)",
            f"{total.usages:,}",
            f"{total.input_tokens:,}",
            f"{total.output_tokens:,}",
            f"{total.cached_input_tokens:,}",
            money(total.cost, currency),
            money(total.unsuccessful_cost, currency),
            str(total.unpriced_usages),
        )
    out.print(table)
