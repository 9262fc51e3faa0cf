"""Options every command shares, and opening the ledger they name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.domain.ledger import Ledger

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="JOBLEDGER_DB", help="Store URL [default: sqlite:///./jobledger.db]"
    ),
]
PriceBookOption = Annotated[
    Path | None,
    typer.Option("--price-book", envvar="JOBLEDGER_PRICE_BOOK", help="Price book TOML file"),
]
ActorOption = Annotated[
    str, typer.Option("--as", envvar="JOBLEDGER_ACTOR", help="Subject recorded as the actor")
]


def open_ledger(db: str | None, price_book: Path | None = None, *, create: bool = True) -> Ledger:
    return build_ledger(Settings.load(db=db, price_book=price_book), create=create)
