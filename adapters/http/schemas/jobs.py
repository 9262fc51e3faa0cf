"""What crosses the HTTP boundary: request bodies (validated) and answers (camelCase).

Timestamps are ISO 8601 UTC; money is a decimal string with its currency code,
never a float.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
)
from pydantic.alias_generators import to_camel

from jobledger.domain.bounds import (
    MAX_INPUTS,
    MAX_TASK_WORKERS,
    Identifier,
    MaxAttempts,
    MediaType,
    Name,
    Pool,
    Priority,
    Reason,
    SizeBytes,
    Subject,
    TaskSubject,
    Uri,
)
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.results import JobType

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_text(value: object) -> object:
    """Query times are ISO 8601 text: a bare number is not silently read as Unix time."""
    if isinstance(value, str) and not _ISO.match(value):
        raise ValueError("expected ISO 8601, e.g. 2026-11-22 or 2026-11-22T09:30:00Z")
    return value


def _within_utc_years(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-22T09:30:00Z")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("in UTC it falls outside the years 1 to 9999") from None
    return moment


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_within_utc_years)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# -- requests -------------------------------------------------------------------------


class InputIn(ApiModel):
    """A reference to something the job reads; the ledger never stores the bytes."""

    name: Name
    media_type: MediaType
    size_bytes: SizeBytes
    uri: Uri | None = None


def _storable(value: JsonValue, where: str = "") -> JsonValue:
    """Refuse what JSON cannot carry and the store cannot encode: NaN and infinities
    (which Python's parser accepts), and text with lone surrogates."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: {value} is not a JSON number")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where or 'value'}: text is not valid Unicode") from None
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key!r}" if where else repr(key)
            _storable(key, place)
            _storable(item, place)
    if isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{where}[{index}]")
    return value


Storable = Annotated[dict[str, JsonValue], AfterValidator(_storable)]


class SubmitJob(ApiModel):
    type: JobType
    investigation_id: Identifier | None = None
    inputs: Annotated[list[InputIn], Field(max_length=MAX_INPUTS)] = []
    config: Storable = {}
    metadata: Storable = {}
    priority: Priority = 5
    max_attempts: MaxAttempts = 3
    pool: Pool | None = None
    subject: TaskSubject | None = Field(
        default=None, description="a job of tasks: what its named workers each analyse"
    )
    workers: Annotated[list[Subject], Field(min_length=1, max_length=MAX_TASK_WORKERS)] | None = (
        Field(default=None, description="a job of tasks: one task per named worker")
    )


class CancelJob(ApiModel):
    reason: Reason = ""


# -- answers --------------------------------------------------------------------------


class Money(ApiModel):
    amount: Annotated[str, Field(examples=["0.04125"], pattern=r"^-?\d+(\.\d+)?$")]
    currency: Annotated[str, Field(examples=["USD"])]

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=format(amount, "f"), currency=currency)


class Tokens(ApiModel):
    input: int
    output: int
    cached_input: int

    @classmethod
    def of(cls, counts: Any) -> Tokens:
        """From anything with ``input_tokens``, ``output_tokens`` and ``cached_input_tokens``
        (a statistics row, a cost total); a read-model row is a mapping of the same."""
        get = counts.get if isinstance(counts, dict) else lambda name: getattr(counts, name)
        return cls(
            input=get("input_tokens"),
            output=get("output_tokens"),
            cached_input=get("cached_input_tokens"),
        )


class Findings(ApiModel):
    entities: int
    relationships: int
    anomalies: int
    predictions: int


class JobError(ApiModel):
    code: str
    message: str


class InputOut(ApiModel):
    name: str
    media_type: str
    size_bytes: int
    uri: str | None = None


class JobSummary(ApiModel):
    """A job as lists and streams show it: everything but its result and inputs."""

    id: UUID
    type: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime = Field(description="time of the job's latest change")
    error: JobError | None = Field(description="set only when the job has failed")
    progress: int
    attempt: int
    max_attempts: int
    priority: int
    tenant_id: str
    investigation_id: str | None
    created_by: str
    agent: str | None
    lease_expires_at: datetime | None = Field(description="while leased: when the lease runs out")
    not_before: datetime | None = Field(description="a retry waits for its back-off until this")
    pool: str | None
    tokens: Tokens
    cost: Money
    projected_cost: Money | None = Field(description="while running: cost scaled to 100%")
    estimated_completion_at: datetime | None
    cancellation_requested: bool
    processing_time_ms: int = Field(
        description="from its first claim to its finish (while unfinished: to its latest "
        "change); 0 before any claim"
    )
    findings: Findings
    started_at: datetime | None
    finished_at: datetime | None
    version: int = Field(description="the job's version; also the ETag")


class JobEnvelope(JobSummary):
    """The universal job envelope: ``result`` and ``error`` are always present, and what
    the creator submitted beside the type (``inputs``, ``config``, ``metadata``)."""

    result: dict[str, Any] | None = Field(description="set only when the job has completed")
    inputs: list[InputOut] | None = Field(description="shown only to the job's creator")
    config: dict[str, Any] | None = Field(description="as submitted; shown only to the creator")
    metadata: dict[str, Any] | None = Field(description="as submitted; shown only to the creator")
    subject: str | None = Field(default=None, description="a job of tasks: what it analyses")
    tasks: list[Task] | None = Field(
        default=None, description="a job of tasks: one per named worker; null for other jobs"
    )
    verdict: Verdict | None = Field(
        default=None, description="a job of tasks: its verdict once every task is final"
    )


class JobPage(ApiModel):
    items: list[JobSummary]
    next_cursor: str | None = Field(description="pass as cursor for the next page")
    position: int = Field(description="the log position the read models had reached")


class StatusChange(ApiModel):
    model_config = ConfigDict(extra="ignore")  # read-model rows carry more columns

    version: int
    from_status: JobStatus | None
    to_status: JobStatus
    trigger: str
    event: str
    at: datetime
    attempt: int
    actor: str
    reason: str | None


class JobHistory(ApiModel):
    job_id: UUID
    items: list[StatusChange]
    position: int


class Durations(ApiModel):
    average: float | None
    p50: int | None
    p95: int | None


class StatsItem(ApiModel):
    tenant_id: str
    type: str
    status_counts: dict[str, int]
    queue_depth: int
    working: int
    submitted: int
    completed: int
    failed: int
    cancelled: int
    retried: int
    failure_rate: float | None
    tokens: Tokens
    cost: Money
    unpriced_usages: int
    run_ms: Durations
    queue_wait_ms: Durations


class Stats(ApiModel):
    items: list[StatsItem]
    position: int


class DailyItem(ApiModel):
    day: str = Field(description="UTC date, YYYY-MM-DD")
    submitted: int
    completed: int
    failed: int
    cancelled: int
    retried: int = Field(description="attempts that failed or expired and were queued again")
    cost: Money = Field(description="priced cost of the usage recorded that day")
    unpriced_usages: int


class Daily(ApiModel):
    items: list[DailyItem] = Field(description="days that saw anything, oldest first")
    position: int


class CostItem(ApiModel):
    key: str | None = Field(description="the tenant, investigation, model or day")
    usages: int
    tokens: Tokens
    cost: Money
    unsuccessful_cost: Money = Field(description="spent on attempts that failed or were cancelled")
    unpriced_usages: int


class Costs(ApiModel):
    group_by: Literal["tenant", "investigation", "model", "day", "action", "tool"]
    items: list[CostItem]
    position: int


class SplitCostItem(CostItem):
    """One day's usage and cost for one model or investigation."""

    split: str | None = Field(description="the model or investigation (null: none given)")


class SplitCosts(ApiModel):
    """Cost per day split a second way: one item per day and model (or investigation)."""

    group_by: Literal["day"]
    split: Literal["model", "investigation"]
    items: list[SplitCostItem]
    position: int


class JobCosts(ApiModel):
    """One job's usage: by model, and by attempt (``key`` is the attempt number)."""

    job_id: UUID
    by_model: list[CostItem]
    by_attempt: list[CostItem]
    position: int = Field(description="the log position the cost ledger had reached")


class RecordedEvent(ApiModel):
    """One stored event, as an auditor reads it."""

    version: int
    type: str
    at: datetime
    actor: str
    tenant_id: str
    correlation_id: str
    data: dict[str, Any]
    # Where the event sits in the verifiable log (docs/audit.md): its leaf and the leaf
    # of the job's previous event, in hex.
    position: int | None = None
    leaf_index: int | None = None
    leaf: str | None = None
    previous: str | None = None


class JobEvents(ApiModel):
    job_id: UUID
    items: list[RecordedEvent]


class Health(ApiModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None
    position: int | None = None
    ledger_position: int | None = None
    lag: int | None = None


class Problem(BaseModel):
    """An error, as RFC 9457 application/problem+json."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str


# The task models extend these (a cycle, closed here): the envelope can name them now.
from jobledger.adapters.http.schemas.tasks import Task, Verdict  # noqa: E402

JobEnvelope.model_rebuild()
