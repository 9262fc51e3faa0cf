"""The price book: what a million tokens of each model cost, as exact Decimals.

A usage event stores the version and unit prices used when it was recorded, so a
later price book never rewrites an old cost.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobledger.domain.errors import ConfigurationError
from jobledger.domain.validation import describe

MILLION = Decimal(1_000_000)


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: Annotated[Decimal, Field(ge=0)]
    output_per_million: Annotated[Decimal, Field(ge=0)]
    cached_input_per_million: Annotated[Decimal, Field(ge=0)]

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(f'write prices as quoted strings (e.g. "{value}") to keep them exact')
        return value


@dataclass(frozen=True)
class Tokens:
    input: int
    output: int
    cached_input: int


@dataclass(frozen=True)
class Charge:
    """The cost of one usage, with what it was computed from."""

    cost: Decimal | None
    currency: str
    price_book_version: str
    unit_prices: ModelPrice | None

    @property
    def priced(self) -> bool:
        return self.cost is not None


class PriceBook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1)]
    effective_from: date
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    @classmethod
    def from_toml(cls, text: str, source: str = "price book") -> PriceBook:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"{source}: not valid TOML: {error}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ConfigurationError(f"{source}: {describe(error)}") from None

    def charge(self, model: str, tokens: Tokens) -> Charge:
        """Price a usage; a model with no price gives an unpriced charge."""
        price = self.models.get(model)
        if price is None:
            return Charge(None, self.currency, self.version, None)
        cost = (
            tokens.input * price.input_per_million
            + tokens.output * price.output_per_million
            + tokens.cached_input * price.cached_input_per_million
        ) / MILLION
        return Charge(cost, self.currency, self.version, price)
