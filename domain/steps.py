"""An agent's steps: what a worker records of each action it took inside a job.

A step names its action, reasoning and outcome, the RAG answer and the tool calls it
made, and optionally the model tokens it used (priced like any usage). The models
take the reference's camelCase names as well as snake_case, so the HTTP API reuses
them as they are. Every size is bounded (``bounds.py``): a count or a text too long
is ``InvalidCommand`` (422), a JSON part too many bytes is ``TooLarge`` (413), and
either way nothing is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic.alias_generators import to_camel

from jobledger.domain.bounds import (
    MAX_BATCH_BYTES,
    MAX_CITATIONS,
    MAX_CITATIONS_BYTES,
    MAX_PARAMS_BYTES,
    MAX_RAW_CONTENT_BYTES,
    MAX_STEPS_PER_BATCH,
    MAX_TARGET_ITEMS,
    MAX_TOOL_CALLS_PER_STEP,
    Count,
    DurationMs,
    Identifier,
    LeaseId,
    Name,
    StepNumber,
    StepText,
    VerificationStatus,
)
from jobledger.domain.commands import Command
from jobledger.domain.errors import TooLarge
from jobledger.domain.pricing import Charge, Tokens
from jobledger.domain.validation import storable_text


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-22T09:30:00Z")
    return moment


Moment = Annotated[datetime, Field(strict=False), AfterValidator(_aware)]
JsonObject = dict[str, JsonValue]


class StepPart(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True
    )

    _storable = model_validator(mode="after")(storable_text)


class RagResponse(StepPart):
    answer: StepText = ""
    citations: Annotated[list[JsonObject], Field(max_length=MAX_CITATIONS)] = Field(
        default_factory=list
    )
    chunks_searched: Count = 0
    processing_time_ms: DurationMs = 0


class ToolCall(StepPart):
    tool_name: Name
    engine_code: Identifier | None = None
    engine_name: Name | None = None
    params: JsonObject = Field(default_factory=dict)
    success: bool
    started_at: Moment | None = None
    execution_time_ms: DurationMs = 0
    raw_content: JsonObject | None = None
    fallback_to_rag: bool = False
    selection_reason: StepText = ""


class Step(StepPart):
    """One action of the agent, as the reference's ``agentAuditLog`` describes it."""

    work_id: StepNumber
    action_name: Name
    category: Name | None = None
    query: StepText = ""
    reasoning: StepText = ""
    success: bool
    iteration: StepNumber = 0
    duration_ms: DurationMs = 0
    executed_at: Moment
    verification_status: VerificationStatus | None = None
    target_item_ids: Annotated[list[Identifier], Field(max_length=MAX_TARGET_ITEMS)] = Field(
        default_factory=list
    )
    rag_response: RagResponse | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOL_CALLS_PER_STEP)] | None = None
    model: Name | None = None
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_input_tokens: Count = 0

    @model_validator(mode="after")
    def _tokens_need_a_model(self) -> Step:
        if self.model is None and (
            self.input_tokens or self.output_tokens or self.cached_input_tokens
        ):
            raise ValueError("tokens are priced by model: give model with them")
        return self

    @property
    def tokens(self) -> Tokens:
        return Tokens(self.input_tokens, self.output_tokens, self.cached_input_tokens)


class AppendSteps(Command):
    """A batch of steps, recorded whole or not at all."""

    lease_id: LeaseId
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS_PER_BATCH)]

    def check_sizes(self) -> None:
        """Refuse a JSON part over its byte bound, naming where it is (``TooLarge``)."""
        total = 0
        for index, step in enumerate(self.steps):
            where = f"steps.{index}"
            if step.rag_response is not None:
                _fits(
                    f"{where}.ragResponse.citations",
                    step.rag_response.citations,
                    MAX_CITATIONS_BYTES,
                )
            for number, call in enumerate(step.tool_calls or ()):
                _fits(f"{where}.toolCalls.{number}.params", call.params, MAX_PARAMS_BYTES)
                _fits(
                    f"{where}.toolCalls.{number}.rawContent",
                    call.raw_content,
                    MAX_RAW_CONTENT_BYTES,
                )
            total += _size(step.model_dump(mode="json"))
        if total > MAX_BATCH_BYTES:
            raise TooLarge(f"steps: {total:,} bytes of JSON, more than {MAX_BATCH_BYTES:,} a batch")


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _fits(field: str, value: object, limit: int) -> None:
    if value is None:
        return
    size = _size(value)
    if size > limit:
        raise TooLarge(f"{field}: {size:,} bytes of JSON, more than {limit:,}")


USAGE_FIELDS = frozenset({"model", "input_tokens", "output_tokens", "cached_input_tokens"})


def step_record(step: Step, charge: Charge | None) -> dict[str, Any]:
    """What the event keeps of a step: its JSON, and the usage as priced now (or None)."""
    record = step.model_dump(
        mode="json", exclude={"model", "input_tokens", "output_tokens", "cached_input_tokens"}
    )
    record["usage"] = None if charge is None else _usage(step, charge)
    return record


def _usage(step: Step, charge: Charge) -> dict[str, Any]:
    prices = charge.unit_prices
    return {
        "model": step.model,
        "input_tokens": step.input_tokens,
        "output_tokens": step.output_tokens,
        "cached_input_tokens": step.cached_input_tokens,
        "cost": charge.cost,
        "currency": charge.currency,
        "price_book_version": charge.price_book_version,
        "input_per_million": prices.input_per_million if prices else None,
        "output_per_million": prices.output_per_million if prices else None,
        "cached_input_per_million": prices.cached_input_per_million if prices else None,
    }


@dataclass(frozen=True)
class StepUsage:
    """A priced step's usage, read back from its record: the fields a ``UsageRecorded``
    has, so totals add both the same way."""

    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost: Decimal | None
    currency: str
    price_book_version: str
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    cached_input_per_million: Decimal | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> StepUsage | None:
        usage = record.get("usage")
        if not isinstance(usage, Mapping):
            return None
        return cls(**{name: usage.get(name) for name in cls.__dataclass_fields__})  # type: ignore[arg-type]
