"""Commands for operators: ``migrate`` (create the tables) and ``copy`` (move a ledger)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.cli.options import DbOption, PriceBookOption
from jobledger.adapters.cli.reports import progress_bar
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_for
from jobledger.adapters.store.copying import copy_events, verify_copy

err = Console(stderr=True)


def migrate(db: DbOption = None, price_book: PriceBookOption = None) -> None:
    """Create the ledger's schema and tables now, rather than on first use."""
    settings = Settings.load(db=db, price_book=price_book)
    ledger = build_ledger(settings)
    try:
        build_runner(ledger)
    finally:
        ledger.close()
    print(f"tables ready in {backend_for(settings)}")


def copy(
    source: Annotated[str, typer.Option("--from", help="The ledger to copy (a store URL)")],
    destination: Annotated[str, typer.Option("--to", help="An empty store to copy it into")],
    from_schema: Annotated[
        str | None, typer.Option(help="PostgreSQL schema of --from [default: JOBLEDGER_PG_SCHEMA]")
    ] = None,
    to_schema: Annotated[
        str | None, typer.Option(help="PostgreSQL schema of --to [default: JOBLEDGER_PG_SCHEMA]")
    ] = None,
    price_book: PriceBookOption = None,
) -> None:
    """Copy every event of a ledger into an empty store, verify it, rebuild its read models."""
    source_settings = Settings.load(db=source, price_book=price_book, pg_schema=from_schema)
    target_settings = Settings.load(db=destination, price_book=price_book, pg_schema=to_schema)
    origin = build_ledger(source_settings, create=False)
    target = build_ledger(target_settings)
    try:
        total = origin.recorder.max_notification_id() or 0
        with progress_bar() as progress:
            copying = progress.add_task("copying", total=total)
            copied = copy_events(origin, target, lambda n: progress.update(copying, completed=n))
            checking = progress.add_task("verifying", total=copied)
            verified = verify_copy(origin, target, lambda n: progress.update(checking, completed=n))
            runner = build_runner(target)
            end = runner.ledger_position()
            rebuilding = progress.add_task("rebuilding read models", total=end)
            runner.catch_up(on_batch=lambda p: progress.update(rebuilding, completed=p))
            progress.update(rebuilding, completed=end)
    finally:
        origin.close()
        target.close()
    where = backend_for(target_settings)
    print(f"copied and verified {verified:,} log entries into {where}; read models rebuilt")
