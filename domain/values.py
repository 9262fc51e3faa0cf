"""Value objects that commands take: who acts, and what a job is given."""

from __future__ import annotations

import re
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
    check_version,
)
from jobledger.domain.errors import InvalidCommand
from jobledger.domain.results import JobType
from jobledger.domain.validation import describe, storable_text

CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_correlation_id(value: object, name: str = "correlation_id") -> str:
    """The one rule for a correlation id, whichever field or header brings it: short,
    and plain enough to log, index and echo in a header as it is."""
    if not isinstance(value, str) or not CORRELATION_ID.fullmatch(value):
        raise InvalidCommand(
            f"{name}: 1 to 128 characters, each a letter, a digit or one of . _ : -"
        )
    return value


def new_correlation_id() -> str:
    """A fresh workflow id, for a command whose caller named none."""
    return uuid4().hex


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

    ``correlation_id`` ties the events of one workflow together across services;
    ``command_id`` makes a retry safe; ``expected_version`` makes a write
    conditional on what the caller last saw.
    """

    correlation_id: str = field(default_factory=new_correlation_id)
    command_id: str | None = None
    expected_version: int | None = None

    def __post_init__(self) -> None:
        check_correlation_id(self.correlation_id)
        command_id = self.command_id
        if command_id is not None and (
            not isinstance(command_id, str) or not command_id.strip() or len(command_id) > 256
        ):
            raise InvalidCommand("command_id: must be a non-empty string of at most 256 characters")
        check_version("expected_version", self.expected_version)


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
