"""Value objects that commands take: who acts, and what a job is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from jobledger.domain.bounds import (
    MAX_INPUTS,
    Identifier,
    MaxAttempts,
    MediaType,
    Name,
    Pool,
    Priority,
    SizeBytes,
    Uri,
)
from jobledger.domain.errors import InvalidCommand
from jobledger.domain.results import JobType
from jobledger.domain.validation import describe, storable_text


@dataclass(frozen=True)
class Actor:
    """The authenticated subject a command runs as, within one tenant."""

    subject: str
    tenant: str

    def __post_init__(self) -> None:
        for name in ("subject", "tenant"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidCommand(f"{name}: must be a non-empty string")
            if "\x00" in value:
                raise InvalidCommand(f"{name}: may not contain NUL (\\x00) characters")


@dataclass(frozen=True)
class CommandMeta:
    """What every command carries besides its payload.

    ``command_id`` makes a retry safe; ``expected_version`` makes a write
    conditional on what the caller last saw.
    """

    correlation_id: str = field(default_factory=lambda: uuid4().hex)
    command_id: str | None = None
    expected_version: int | None = None

    def __post_init__(self) -> None:
        for name in ("command_id", "correlation_id"):
            value = getattr(self, name)
            if name == "command_id" and value is None:
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > 256:
                raise InvalidCommand(
                    f"{name}: must be a non-empty string of at most 256 characters"
                )
        version = self.expected_version
        if version is not None and (type(version) is not int or version < 1):
            raise InvalidCommand(
                f"expected_version: must be a whole number from 1, got {version!r}"
            )


class InputRef(BaseModel):
    """A reference to something a job reads; the ledger never stores the bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    media_type: MediaType
    size_bytes: SizeBytes
    uri: Uri | None = None


class JobSpec(BaseModel):
    """The payload of ``submit``, validated before anything is recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    job_type: Annotated[JobType, Field(strict=False)]  # by its value, e.g. "graph_analysis"
    investigation_id: Identifier | None = None
    priority: Priority = 5
    max_attempts: MaxAttempts = 3
    pool: Pool | None = None
    inputs: list[InputRef] = Field(default_factory=list, max_length=MAX_INPUTS)
    config: dict[str, JsonValue] = Field(default_factory=dict)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    _storable = model_validator(mode="after")(storable_text)


def parse_spec(**fields: Any) -> JobSpec:
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as error:
        raise InvalidCommand(describe(error)) from None
