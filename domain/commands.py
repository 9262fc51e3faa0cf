"""The payload of each Ledger command, validated strictly before anything is loaded.

The Ledger is a boundary: services call it in-process. Each command is a strict
pydantic model (no coercion of floats to ints or ints to strings), bounded so
that no value can break an event's ``apply`` later; its ``model_dump`` is also
the fingerprint that tells a retried command from a reused command id.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from jobledger.domain.bounds import (
    DEFAULT_LEASE_SECONDS,
    Count,
    ErrorCode,
    FindingKind,
    LeaseId,
    LeaseSeconds,
    Message,
    Name,
    Percent,
    Pool,
    Reason,
)
from jobledger.domain.errors import InvalidCommand
from jobledger.domain.validation import describe, storable_text


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    _storable = model_validator(mode="after")(storable_text)

    @classmethod
    def parse(cls: type[C], **fields: Any) -> C:
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise InvalidCommand(describe(error)) from None

    def digest_payload(self) -> dict[str, Any]:
        return {"command": type(self).__name__, **self.model_dump(mode="json")}


C = TypeVar("C", bound=Command)


class Claim(Command):
    agent: Name
    pool: Pool | None = None
    lease_seconds: LeaseSeconds = DEFAULT_LEASE_SECONDS


class Release(Command):
    lease_id: LeaseId
    reason: Reason = ""


class Start(Command):
    lease_id: LeaseId


class ReportProgress(Command):
    lease_id: LeaseId
    percent: Percent | None = None  # None: findings only
    message: Message | None = None
    findings: dict[FindingKind, Count] = Field(default_factory=dict)


class RecordUsage(Command):
    lease_id: LeaseId
    model: Name
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_input_tokens: Count = 0


class Heartbeat(Command):
    lease_id: LeaseId
    lease_seconds: LeaseSeconds | None = None  # None: as long as the lease was granted


class BeginValidation(Command):
    lease_id: LeaseId


class BeginUpload(Command):
    lease_id: LeaseId


class Complete(Command):
    lease_id: LeaseId
    result: dict[str, JsonValue]


class Fail(Command):
    lease_id: LeaseId
    code: ErrorCode
    message: Message
    retryable: bool = False


class ExpireLease(Command):
    pass


class Cancel(Command):
    reason: Reason = ""


class AcknowledgeCancellation(Command):
    lease_id: LeaseId
