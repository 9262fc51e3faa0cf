"""Load the price book: an operator's TOML file, or the one jobledger ships."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jobledger.domain.errors import ConfigurationError
from jobledger.domain.pricing import PriceBook

DEFAULT_PRICE_BOOK = "default_price_book.toml"


def load_price_book(path: Path | None = None) -> PriceBook:
    if path is None:
        text = resources.files("jobledger.adapters").joinpath(DEFAULT_PRICE_BOOK).read_text()
        return PriceBook.from_toml(text, source=f"shipped {DEFAULT_PRICE_BOOK}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"price book {path}: {error.strerror or error}") from None
    return PriceBook.from_toml(text, source=f"price book {path}")
