"""Costs are exact Decimals from the price book in force when usage was recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobledger.adapters.price_books import load_price_book
from jobledger.domain.errors import ConfigurationError
from jobledger.domain.pricing import PriceBook, Tokens

BOOK = PriceBook.from_toml(
    """
version = "test-1"
effective_from = 2026-01-01
[models.m]
input_per_million = "2.50"
output_per_million = "10"
cached_input_per_million = "0.125"
"""
)


@pytest.mark.parametrize(
    ("tokens", "cost"),
    [
        (Tokens(1_000_000, 0, 0), "2.50"),
        (Tokens(0, 1, 0), "0.00001"),
        (Tokens(0, 0, 8), "0.000001"),
        (Tokens(333_333, 7, 3), "0.833402875"),
        (Tokens(10**12, 10**12, 10**12), "12625000"),
    ],
)
def test_cost_is_exact_at_known_prices(tokens: Tokens, cost: str) -> None:
    charge = BOOK.charge("m", tokens)
    assert isinstance(charge.cost, Decimal)
    assert charge.cost == Decimal(cost)


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=50))
def test_costs_add_up_exactly_however_usage_is_split(parts: list[int]) -> None:
    whole = BOOK.charge("m", Tokens(sum(parts), 0, 0)).cost
    pieces = [BOOK.charge("m", Tokens(part, 0, 0)).cost for part in parts]
    assert sum(p for p in pieces if p is not None) == whole


def test_a_model_without_a_price_is_unpriced_but_versioned() -> None:
    charge = BOOK.charge("mystery", Tokens(10, 10, 0))
    assert charge.cost is None
    assert not charge.priced
    assert charge.price_book_version == "test-1"


def test_float_prices_are_refused_so_money_stays_exact() -> None:
    text = 'version="v"\neffective_from=2026-01-01\n[models.m]\ninput_per_million=0.1\n'
    text += 'output_per_million="1"\ncached_input_per_million="1"\n'
    with pytest.raises(ConfigurationError, match="quoted strings"):
        PriceBook.from_toml(text)


def test_a_broken_price_book_says_where_and_why() -> None:
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        PriceBook.from_toml("version = ", source="prices.toml")
    with pytest.raises(ConfigurationError, match="effective_from: Field required"):
        PriceBook.from_toml('version = "v"')


def test_the_shipped_price_book_prices_its_models(tmp_path: object) -> None:
    book = load_price_book()
    assert book.currency == "USD"
    assert book.charge("gpt-4o", Tokens(1_000_000, 0, 0)).cost == Decimal("2.50")


def test_an_operator_price_book_replaces_the_shipped_one(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "prices.toml"  # type: ignore[operator]
    path.write_text(
        'version="ours"\neffective_from=2026-06-01\ncurrency="EUR"\n[models.x]\n'
        'input_per_million="1"\noutput_per_million="2"\ncached_input_per_million="0"\n'
    )
    book = load_price_book(path)
    assert (book.version, book.currency, sorted(book.models)) == ("ours", "EUR", ["x"])


def test_a_missing_price_book_file_is_a_clear_error(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(ConfigurationError, match="No such file"):
        load_price_book(tmp_path / "absent.toml")  # type: ignore[operator]
