"""Settings from the environment and the command line, validated at the boundary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobledger.domain.errors import ConfigurationError
from jobledger.domain.validation import describe

DEFAULT_DB = "sqlite:///./jobledger.db"
DEV_ISSUER = "jobledger-local"
DEFAULT_AUDIENCE = "jobledger"

# Each setting and the variable that sets it when the command line does not.
ENVIRONMENT = {
    "db": "JOBLEDGER_DB",
    "price_book": "JOBLEDGER_PRICE_BOOK",
    "sqlite_lock_timeout_seconds": "JOBLEDGER_SQLITE_LOCK_TIMEOUT",
    "jwt_public_key": "JOBLEDGER_JWT_PUBLIC_KEY",
    "jwt_jwks": "JOBLEDGER_JWT_JWKS",
    "jwt_issuer": "JOBLEDGER_JWT_ISSUER",
    "jwt_audience": "JOBLEDGER_JWT_AUDIENCE",
    "max_body_bytes": "JOBLEDGER_MAX_BODY_BYTES",
    "ready_max_lag": "JOBLEDGER_READY_MAX_LAG",
    "pg_schema": "JOBLEDGER_PG_SCHEMA",
    "sweep_seconds": "JOBLEDGER_SWEEP_SECONDS",
    "retry_base_seconds": "JOBLEDGER_RETRY_BASE_SECONDS",
    "retry_max_seconds": "JOBLEDGER_RETRY_MAX_SECONDS",
    "state_dir": "JOBLEDGER_STATE_DIR",
    "graphql_introspection": "JOBLEDGER_GRAPHQL_INTROSPECTION",
    "graphql_max_depth": "JOBLEDGER_GRAPHQL_MAX_DEPTH",
    "graphql_max_tokens": "JOBLEDGER_GRAPHQL_MAX_TOKENS",
    "graphql_max_cost": "JOBLEDGER_GRAPHQL_MAX_COST",
    "ledger_key": "JOBLEDGER_LEDGER_KEY",
    "checkpoint_seconds": "JOBLEDGER_CHECKPOINT_SECONDS",
    "job_cache_size": "JOBLEDGER_JOB_CACHE",
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    db: Annotated[str, Field(min_length=1)] = DEFAULT_DB
    price_book: Path | None = None
    sqlite_lock_timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 30
    # Token checking: a PEM public key or a JWKS file; with neither, a development key
    # pair is made where the store's backend keeps it (``adapters/auth/keys.py``).
    jwt_public_key: Path | None = None
    jwt_jwks: Path | None = None
    jwt_issuer: Annotated[str, Field(min_length=1)] = DEV_ISSUER
    jwt_audience: Annotated[str, Field(min_length=1)] = DEFAULT_AUDIENCE
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    ready_max_lag: Annotated[int, Field(ge=0)] = 10_000
    # PostgreSQL: the schema that holds this ledger, so several can share a database.
    pg_schema: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "jobledger"
    # How often the lease sweeper looks for leases past their deadline.
    sweep_seconds: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 5.0
    # The back-off after a retryable failure: base * 2**(attempt-1), capped, jittered.
    retry_base_seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 2.0
    retry_max_seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 300.0
    # This user's state (development keys of server-based ledgers): see ``state_folder``.
    state_dir: Path | None = None
    # GraphQL (``/graphql``): whether the schema may be asked for (switch it off in
    # production), and how deep and how long a query may be before it is refused unrun.
    graphql_introspection: bool = True
    graphql_max_depth: Annotated[int, Field(ge=2, le=50)] = 8
    graphql_max_tokens: Annotated[int, Field(ge=50, le=100_000)] = 2_000
    # ...and how many fields it may ask the executor for (``adapters/graphql/cost.py``):
    # the default lets a page of 500 jobs with every summary field through.
    graphql_max_cost: Annotated[int, Field(ge=100, le=10_000_000)] = 25_000
    # The Ed25519 key that signs the log's checkpoints (PEM, private); with none, a
    # development key is made beside the JWT development key (``adapters/audit/signing.py``).
    ledger_key: Path | None = None
    # How often ``serve`` and ``project`` take a checkpoint of the log (0: never).
    checkpoint_seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 300.0
    # How many jobs a process keeps in memory between commands (0: none).
    job_cache_size: Annotated[int, Field(ge=0, le=10_000_000)] = 10_000

    @model_validator(mode="after")
    def _retry_base_within_max(self) -> Settings:
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError("retry_base_seconds: must not exceed retry_max_seconds")
        return self

    @classmethod
    def load(cls, **given: object) -> Settings:
        """Command-line values win over ``JOBLEDGER_*`` variables, which win over defaults."""
        unknown = set(given) - set(ENVIRONMENT)
        if unknown:
            raise ConfigurationError(f"settings: unknown {', '.join(sorted(unknown))}")
        values: dict[str, object] = {}
        for name, variable in ENVIRONMENT.items():
            value = given.get(name) or os.environ.get(variable)
            if value:
                values[name] = value
        try:
            settings = cls.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(f"settings: {describe(error)}") from None
        if settings.jwt_public_key is not None and settings.jwt_jwks is not None:
            raise ConfigurationError(
                "settings: give JOBLEDGER_JWT_PUBLIC_KEY or JOBLEDGER_JWT_JWKS, not both"
            )
        return settings


def state_folder(settings: Settings) -> Path:
    """Where this user's jobledger state lives: ``JOBLEDGER_STATE_DIR``, else
    ``$XDG_STATE_HOME/jobledger``, else ``~/.local/state/jobledger`` (the XDG default)."""
    if settings.state_dir is not None:
        return settings.state_dir
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "jobledger"
