"""The ``jobledger`` command line.

Every command honours ``--db`` and ``JOBLEDGER_DB``. Errors are one line on
stderr and a non-zero exit code, never a traceback (``JOBLEDGER_DEBUG=1`` shows one).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console

from jobledger.adapters.cli import audit, operate, render, reports, serve
from jobledger.adapters.cli import steps as steps_view
from jobledger.adapters.cli import tasks as tasks_cli
from jobledger.adapters.cli.options import ActorOption, DbOption, PriceBookOption, open_ledger
from jobledger.domain.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobLedgerError,
    JobNotFound,
    LeaseMismatch,
    StoreUnavailable,
)
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.results import JobType
from jobledger.domain.values import Actor, CommandMeta

app = typer.Typer(
    name="jobledger",
    help="An event-sourced ledger for long-running AI analysis jobs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(reports.projections_app, name="projections")
app.add_typer(audit.audit_app, name="audit")
app.command()(reports.stats)
app.command()(reports.costs)
app.command()(tasks_cli.tasks)
app.command()(serve.serve)
app.command()(serve.project)
app.command()(operate.migrate)
app.command()(operate.copy)
app.command()(serve.token)
out = Console()

EXIT_CODES: dict[type[JobLedgerError], int] = {
    InvalidCommand: 2,
    JobNotFound: 3,
    IllegalTransition: 4,
    LeaseMismatch: 4,
    ConcurrencyConflict: 5,
    IdempotencyConflict: 5,
    ConfigurationError: 6,
    StoreUnavailable: 7,
}


def exit_code(error: JobLedgerError) -> int:
    return next((EXIT_CODES[c] for c in type(error).__mro__ if c in EXIT_CODES), 1)


def parse_job_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidCommand(f"JOB: {text!r} is not a job id (a UUID)") from None


def parse_input(text: str) -> dict[str, Any]:
    """``NAME:MEDIA_TYPE:SIZE[:URI]``, e.g. ``report.pdf:application/pdf:52311``."""
    parts = text.split(":", 3)
    if len(parts) < 3:
        raise InvalidCommand(f"--input: {text!r} is not NAME:MEDIA_TYPE:SIZE[:URI]")
    name, media_type, size = parts[:3]
    if not (size.isascii() and size.isdigit()):
        raise InvalidCommand(f"--input: size {size!r} in {text!r} is not a whole number of bytes")
    ref: dict[str, Any] = {"name": name, "media_type": media_type, "size_bytes": int(size)}
    if len(parts) == 4:
        ref["uri"] = parts[3]
    return ref


def parse_json_object(option: str, text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        if not isinstance(error, json.JSONDecodeError):
            raise InvalidCommand(f"{option}: {error}") from None
        raise InvalidCommand(
            f"{option}: not valid JSON ({error.msg} at column {error.colno})"
        ) from None
    if not isinstance(value, dict):
        raise InvalidCommand(f"{option}: must be a JSON object")
    return value


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"--as-of: {text!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def submit(
    tenant: Annotated[str, typer.Option(help="Tenant that owns the job")],
    job_type: Annotated[
        str, typer.Option("--type", help=f"One of: {', '.join(t.value for t in JobType)}")
    ],
    investigation: Annotated[str | None, typer.Option(help="Investigation id")] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", help="NAME:MEDIA_TYPE:SIZE[:URI]; repeat for several"),
    ] = None,
    priority: Annotated[int, typer.Option(help="0 (lowest) to 9")] = 5,
    max_attempts: Annotated[int, typer.Option(help="Attempts before a failure is final")] = 3,
    pool: Annotated[str | None, typer.Option(help="Only agents of this pool may claim it")] = None,
    config: Annotated[str | None, typer.Option(help="Job configuration, a JSON object")] = None,
    metadata: Annotated[str | None, typer.Option(help="Free-form metadata, a JSON object")] = None,
    command_id: Annotated[
        str | None, typer.Option(help="Makes a retried submit return the same job")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="A job of tasks: what its named workers analyse")
    ] = None,
    workers: Annotated[
        list[str] | None, typer.Option("--worker", help="A job of tasks: a named worker; repeat")
    ] = None,
    actor: ActorOption = "cli",
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Submit a job and print its id."""
    refs = [parse_input(text) for text in inputs or []]
    config_object = parse_json_object("--config", config)
    metadata_object = parse_json_object("--metadata", metadata)
    ledger = open_ledger(db, price_book)
    outcome = ledger.submit(
        Actor(actor, tenant),
        job_type,
        investigation_id=investigation,
        priority=priority,
        max_attempts=max_attempts,
        pool=pool,
        inputs=refs,
        config=config_object,
        metadata=metadata_object,
        subject=subject,
        workers=workers or (),
        meta=CommandMeta(command_id=command_id),
    )
    print(outcome.job_id)


@app.command()
def show(
    job: Annotated[str, typer.Argument(help="Job id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON")] = False,
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Show a job now: state, progress, tokens, cost, result and status history."""
    job_id = parse_job_id(job)
    ledger = open_ledger(db, price_book, create=False)
    current = ledger.get(job_id)
    if as_json:
        print(render.job_json(current))
        return
    out.print(render.job_panel(current, ledger.price_book.currency))
    out.print(render.history_table(ledger.status_history(job_id)))


@app.command()
def steps(
    job: Annotated[str, typer.Argument(help="Job id")],
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Show an agent's steps in a job as a timeline: durations, tools, tokens and cost."""
    job_id = parse_job_id(job)
    ledger = open_ledger(db, price_book, create=False)
    rows = steps_view.job_steps(ledger.job_events(job_id))
    out.print(steps_view.timeline(str(job_id), rows, ledger.price_book.currency))


@app.command()
def cancel(
    job: Annotated[str, typer.Argument(help="Job id")],
    tenant: Annotated[str, typer.Option(help="Tenant that owns the job")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the history")] = "",
    actor: ActorOption = "cli",
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Cancel a job: at once if nobody works on it yet, else ask its worker to stop."""
    job_id = parse_job_id(job)
    ledger = open_ledger(db, price_book, create=False)
    ledger.cancel(Actor(actor, tenant), job_id, reason=reason)
    status = ledger.get(job_id).status
    if status is JobStatus.CANCELLED:
        print(f"cancelled {job_id}")
    else:
        print(f"cancellation requested: {job_id} is {status}; its worker will stop")


@app.command()
def replay(
    job: Annotated[str, typer.Argument(help="Job id")],
    version: Annotated[int | None, typer.Option(help="Show the job at this version")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Show the job as it stood at this ISO 8601 time")
    ] = None,
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Rebuild a job from its events as it stood at a version or a moment."""
    if version is not None and as_of is not None:
        raise InvalidCommand("give --version or --as-of, not both")
    job_id = parse_job_id(job)
    ledger = open_ledger(db, price_book, create=False)
    events = ledger.job_events(job_id)
    if version is not None and not 1 <= version <= len(events):
        raise InvalidCommand(f"--version: job {job_id} has versions 1 to {len(events)}")
    if as_of is not None:
        then = ledger.get_as_of(job_id, parse_moment(as_of))
    else:
        then = ledger.get(job_id, version=version)
    title = (
        f"job {job_id} at version {then.version} of {len(events)}, {render.when(then.modified_on)}"
    )
    out.print(render.job_panel(then, ledger.price_book.currency, title=title))
    history = [c for c in ledger.status_history(job_id) if c.version <= then.version]
    out.print(render.history_table(history))


@app.command()
def demo(
    jobs: Annotated[int, typer.Option(min=1, max=500, help="How many jobs to simulate")] = 24,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Simulated workers")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed for a repeatable run")] = None,
    speed: Annotated[
        float, typer.Option(min=0.01, max=100.0, help="Time scale: 2 runs twice as fast")
    ] = 1.0,
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Simulate analysts and workers calling a server of its own, with live progress."""
    from jobledger.adapters.bootstrap import build_services
    from jobledger.adapters.cli.demo import run_demo
    from jobledger.adapters.http.server import serving
    from jobledger.adapters.settings import Settings

    settings = Settings.load(db=db, price_book=price_book)
    services = build_services(settings)
    try:
        with serving(services) as url:
            out.print(f"[dim]a jobledger server for this demo listens on {url}[/dim]")
            run_demo(
                url,
                settings,
                services.ledger,
                out,
                jobs=jobs,
                workers=workers,
                seed=seed,
                speed=speed,
            )
    finally:
        services.ledger.close()


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line and an exit code for every error.

    Typer reports usage errors itself (exit code 2); this maps the rest.
    """
    try:
        app(args=argv)
    except JobLedgerError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(exit_code(error))
    except OperationalError as error:
        print(f"error: the database is unavailable: {error}", file=sys.stderr)
        sys.exit(EXIT_CODES[StoreUnavailable])
    except Exception as error:
        if os.environ.get("JOBLEDGER_DEBUG"):
            raise
        print(
            f"unexpected error: {type(error).__name__}: {error} "
            "(set JOBLEDGER_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        sys.exit(70)
