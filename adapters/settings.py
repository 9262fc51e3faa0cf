"""Settings from the environment and the command line, validated at the boundary."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobledger.domain.errors import ConfigurationError
from jobledger.domain.validation import describe

DEFAULT_DB = "sqlite:///./jobledger.db"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    db: Annotated[str, Field(min_length=1)] = DEFAULT_DB
    price_book: Path | None = None
    sqlite_lock_timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 30

    @classmethod
    def load(cls, *, db: str | None = None, price_book: Path | None = None) -> Settings:
        """Command-line values win over ``JOBLEDGER_*`` variables, which win over defaults."""
        values: dict[str, object] = {}
        env = os.environ
        if db or env.get("JOBLEDGER_DB"):
            values["db"] = db or env["JOBLEDGER_DB"]
        if price_book or env.get("JOBLEDGER_PRICE_BOOK"):
            values["price_book"] = price_book or env["JOBLEDGER_PRICE_BOOK"]
        if env.get("JOBLEDGER_SQLITE_LOCK_TIMEOUT"):
            values["sqlite_lock_timeout_seconds"] = env["JOBLEDGER_SQLITE_LOCK_TIMEOUT"]
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(f"settings: {describe(error)}") from None


@dataclass(frozen=True)
class SQLiteStore:
    path: Path


def parse_db_url(url: str) -> SQLiteStore:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError("JOBLEDGER_DB: sqlite URL has no file path")
        return SQLiteStore(Path(path))
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(
            "JOBLEDGER_DB: PostgreSQL is not supported yet; use sqlite:///path/to/file.db"
        )
    raise ConfigurationError(
        f"JOBLEDGER_DB: cannot use {url!r}; expected sqlite:///path/to/file.db"
    )
