"""The read models' tables: the SQL contract reporting jobs rely on, as data.

Stores create their tables from these definitions and ``docs/projections.md`` is
generated from them, so the contract, the database and the docs cannot drift.
Types are logical: ``decimal`` is exact (stored as text), ``timestamp`` is ISO
8601 UTC text, ``boolean`` is 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from typing import Any, Literal

ColumnType = Literal["text", "integer", "decimal", "timestamp", "boolean"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    meaning: str
    nullable: bool = False


@dataclass(frozen=True, eq=False)
class Table:
    """One table of the contract; a singleton, so compared (and hashed) by identity."""

    name: str
    meaning: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    internal: bool = field(default=False)
    # Integer columns a batch adds to rather than sets: the store sums them, so counting
    # needs no read of the stored row first.
    counters: tuple[str, ...] = ()
    # Rows are only ever added (one per event, step or call, under keys the events carry),
    # never changed: a store may add them without looking for a stored row first.
    added_only: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def key_of(self) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """A row's primary key, as a tuple (computed for every row a batch changes)."""
        if len(self.key) > 1:
            return itemgetter(*self.key)
        name = self.key[0]
        return lambda row: (row[name],)


def _c(name: str, type_: ColumnType, meaning: str, nullable: bool = False) -> Column:
    return Column(name, type_, meaning, nullable)


_TENANT = _c("tenant", "text", "the tenant that owns the job")
_JOB_TYPE = _c("job_type", "text", "the job type, e.g. entity_extraction")
_JOB_ID = _c("job_id", "text", "the job id (UUID)")
_POSITION = _c("position", "integer", "log position of the last event applied to this row")

JOB_SUMMARIES = Table(
    "job_summaries",
    "One row per job: where it stands now.",
    (
        _JOB_ID,
        _TENANT,
        _c("investigation_id", "text", "the investigation it belongs to", nullable=True),
        _JOB_TYPE,
        _c(
            "status",
            "text",
            "queued, claimed, running, validating, uploading, completed, failed or cancelled",
        ),
        _c("progress", "integer", "percent 0-100 of the current attempt; 100 once completed"),
        _c("attempt", "integer", "the current (or last) attempt, from 1"),
        _c("max_attempts", "integer", "attempts before a failure is final"),
        _c("priority", "integer", "0 (lowest) to 9"),
        _c("created_by", "text", "the subject that submitted it"),
        _c("agent", "text", "the worker holding its lease now", nullable=True),
        _c(
            "lease_expires_at",
            "timestamp",
            "when the current lease runs out (the lease sweeper looks here)",
            nullable=True,
        ),
        _c(
            "not_before",
            "timestamp",
            "a retry waits for its back-off: not claimable before this",
            nullable=True,
        ),
        _c("pool", "text", "the agent pool it is restricted to", nullable=True),
        _c("cancellation_requested", "boolean", "a cancel was asked of running work"),
        _c("created_at", "timestamp", "when it was submitted"),
        _c("claimed_at", "timestamp", "its first claim", nullable=True),
        _c("started_at", "timestamp", "its first start", nullable=True),
        _c("attempt_started_at", "timestamp", "the start of the current attempt", nullable=True),
        _c(
            "finished_at",
            "timestamp",
            "when it became completed, failed or cancelled",
            nullable=True,
        ),
        _c("queue_wait_ms", "integer", "first claim minus submission", nullable=True),
        _c("run_duration_ms", "integer", "finish minus first start", nullable=True),
        _c("input_tokens", "integer", "prompt tokens over all attempts"),
        _c("output_tokens", "integer", "completion tokens over all attempts"),
        _c("cached_input_tokens", "integer", "cached prompt tokens over all attempts"),
        _c("cost", "decimal", "priced cost over all attempts"),
        _c("unpriced_usage", "boolean", "some usage was of a model with no price"),
        _c("error_code", "text", "the last error's code", nullable=True),
        _c("error_message", "text", "the last error's message", nullable=True),
        _c(
            "entities",
            "integer",
            "entities found: the result's count, else the latest preliminary one",
        ),
        _c("relationships", "integer", "relationships found (as entities)"),
        _c("anomalies", "integer", "anomalies found (as entities)"),
        _c("predictions", "integer", "predictions made (as entities)"),
        _c(
            "estimated_completion_at",
            "timestamp",
            "while running: from the progress rate of this attempt",
            nullable=True,
        ),
        _c(
            "projected_cost",
            "decimal",
            "while running: cost so far scaled to 100% progress",
            nullable=True,
        ),
        _c("last_event_at", "timestamp", "time of its latest event"),
        _c("version", "integer", "its version (number of events)"),
        _POSITION,
    ),
    key=("job_id",),
    indexes=(
        ("tenant", "created_at", "job_id"),
        ("tenant", "status", "priority", "created_at"),
        ("tenant", "investigation_id"),
        ("tenant", "created_by"),
        ("tenant", "agent"),
        ("lease_expires_at",),
    ),
)

STATUS_HISTORY = Table(
    "status_history",
    "One row per transition of a job (and per cancellation request).",
    (
        _JOB_ID,
        _c("version", "integer", "the job version of the event that made the transition"),
        _TENANT,
        _c("from_status", "text", "status before; null for the submission", nullable=True),
        _c("to_status", "text", "status after"),
        _c("trigger", "text", "the lifecycle trigger, e.g. claim"),
        _c("event", "text", "the event type, e.g. JobClaimed"),
        _c("at", "timestamp", "when"),
        _c("attempt", "integer", "the attempt it belongs to, from 1"),
        _c("actor", "text", "who"),
        _c("reason", "text", "why, when the event says", nullable=True),
        _POSITION,
    ),
    key=("job_id", "version"),
    indexes=(("tenant", "at"),),
    added_only=True,
)

STATUS_HISTORY_JOBS = Table(
    "status_history_jobs",
    "Internal to the status history projection: each job's current status.",
    (
        _JOB_ID,
        _c("status", "text", "current status"),
        _c("attempt", "integer", "current attempt"),
    ),
    key=("job_id",),
    internal=True,
)

TASKS = Table(
    "tasks",
    "One row per task of a job of tasks: the named worker's state, score and error.",
    (
        _JOB_ID,
        _c("task_id", "text", "the task id (UUID, derived from the job and the worker)"),
        _TENANT,
        _c("subject", "text", "what the job analyses (a sample's sha256, an input reference)"),
        _c("worker", "text", "the worker the task is named for"),
        _c("state", "text", "enqueued, executing, successful, timeout, failed or cancelled"),
        _c("score", "integer", "0-100, or -1 uncertain; set when successful", nullable=True),
        _c("analyses", "text", "JSON array of the analysis ids of a successful task"),
        _c("error_code", "text", "why a failed task failed", nullable=True),
        _c("error_message", "text", "the failed task's message", nullable=True),
        _c("created_at", "timestamp", "when the job (and its tasks) was submitted"),
        _c("started_at", "timestamp", "when the worker claimed it", nullable=True),
        _c("finished_at", "timestamp", "when it became final", nullable=True),
        _c("lease_expires_at", "timestamp", "when an executing task's lease lapses", nullable=True),
        _c("version", "integer", "the job version of the last event applied to this row"),
        _POSITION,
    ),
    key=("job_id", "task_id"),
    indexes=(("tenant", "worker", "state"), ("tenant", "subject"), ("state", "lease_expires_at")),
)

VERDICTS = Table(
    "verdicts",
    "One row per decided job of tasks: its verdict, or none (no_verdict), and what counted.",
    (
        _JOB_ID,
        _TENANT,
        _c("subject", "text", "what the job analysed"),
        _c(
            "score",
            "integer",
            "the verdict: 0-100, or -1 uncertain; null: no verdict",
            nullable=True,
        ),
        _c(
            "counted",
            "text",
            "JSON array: each counted score with its worker and source (task, or task of an earlier job)",
        ),
        _c("decided_at", "timestamp", "when the last task became final"),
        _POSITION,
    ),
    key=("job_id",),
    indexes=(("tenant", "subject"),),
)

TASK_SUBJECTS = Table(
    "task_subjects",
    "Internal to the tasks projection: each job of tasks' subject and submission time.",
    (_JOB_ID, _c("subject", "text", "the subject"), _c("created_at", "timestamp", "submitted")),
    key=("job_id",),
    internal=True,
)

JOB_STATUS_COUNTS = Table(
    "job_status_counts",
    "Statistics: how many jobs are in each status now (queue depth is status = queued).",
    (
        _TENANT,
        _JOB_TYPE,
        _c("status", "text", "a lifecycle status"),
        _c("jobs", "integer", "jobs in it now"),
    ),
    key=("tenant", "job_type", "status"),
    counters=("jobs",),
)

JOB_DAILY_STATISTICS = Table(
    "job_daily_statistics",
    "Statistics per UTC day of the event that counted: throughput, durations, tokens, cost.",
    (
        _TENANT,
        _JOB_TYPE,
        _c("day", "text", "UTC date, YYYY-MM-DD"),
        _c("submitted", "integer", "jobs submitted"),
        _c("completed", "integer", "jobs completed"),
        _c("failed", "integer", "jobs failed for good"),
        _c("cancelled", "integer", "jobs cancelled"),
        _c("retried", "integer", "attempts that failed or expired and were queued again"),
        _c("run_ms_total", "integer", "sum of run_duration_ms of jobs completed"),
        _c("queue_wait_ms_total", "integer", "sum of queue_wait_ms of jobs completed"),
        _c("input_tokens", "integer", "prompt tokens used"),
        _c("output_tokens", "integer", "completion tokens used"),
        _c("cached_input_tokens", "integer", "cached prompt tokens used"),
        _c("cost", "decimal", "priced cost of usage"),
        _c("unpriced_usages", "integer", "usage records of models with no price"),
    ),
    key=("tenant", "job_type", "day"),
)

JOB_DURATION_HISTOGRAM = Table(
    "job_duration_histogram",
    "Statistics: completed jobs by duration bucket, for p50 and p95 without scanning jobs.",
    (
        _TENANT,
        _JOB_TYPE,
        _c("day", "text", "UTC date of completion, YYYY-MM-DD"),
        _c(
            "measure",
            "text",
            "run (first start to finish) or queue_wait (submission to first claim)",
        ),
        _c("bucket", "integer", "bucket number; buckets are at most 1/16 (6.25%) wide"),
        _c("lower_ms", "integer", "the smallest duration in the bucket"),
        _c("jobs", "integer", "completed jobs in the bucket"),
    ),
    key=("tenant", "job_type", "day", "measure", "bucket"),
    counters=("jobs",),
)

STATISTICS_JOBS = Table(
    "statistics_jobs",
    "Internal to the statistics projection: what it must remember of each job.",
    (
        _JOB_ID,
        _TENANT,
        _JOB_TYPE,
        _c("status", "text", "current status"),
        _c("created_at", "timestamp", "submission"),
        _c("claimed_at", "timestamp", "first claim", nullable=True),
        _c("started_at", "timestamp", "first start", nullable=True),
    ),
    key=("job_id",),
    internal=True,
)

COST_ENTRIES = Table(
    "cost_entries",
    "The cost ledger: one row per usage event or priced agent step, priced as it was when "
    "recorded.",
    (
        _c("position", "integer", "log position of the usage (or steps) event"),
        _c("step", "integer", "0 for a usage record; else the agent step's number in the job"),
        _c("action", "text", "the agent step's action name; null for a usage", nullable=True),
        _c("category", "text", "the agent step's category", nullable=True),
        _JOB_ID,
        _TENANT,
        _c("investigation_id", "text", "the job's investigation", nullable=True),
        _JOB_TYPE,
        _c("attempt", "integer", "the attempt the usage belongs to"),
        _c("model", "text", "the model used"),
        _c("input_tokens", "integer", "prompt tokens"),
        _c("output_tokens", "integer", "completion tokens"),
        _c("cached_input_tokens", "integer", "cached prompt tokens"),
        _c("price_book_version", "text", "the price book used"),
        _c("input_per_million", "decimal", "unit price per million input tokens", nullable=True),
        _c("output_per_million", "decimal", "unit price per million output tokens", nullable=True),
        _c(
            "cached_input_per_million",
            "decimal",
            "unit price per million cached tokens",
            nullable=True,
        ),
        _c("cost", "decimal", "the cost; null when the model had no price", nullable=True),
        _c("currency", "text", "ISO 4217 code"),
        _c("at", "timestamp", "when the usage was recorded"),
        _c("day", "text", "UTC date, YYYY-MM-DD"),
    ),
    key=("position", "step"),
    indexes=(("tenant", "day"), ("job_id", "attempt"), ("tenant", "investigation_id")),
    added_only=True,
)

COST_TOOL_CALLS = Table(
    "cost_tool_calls",
    "The cost ledger per tool: one row per tool call of a priced agent step; join "
    "cost_entries on (position, step) for its cost. A step that called several tools "
    "counts toward each.",
    (
        _c("position", "integer", "log position of the steps event"),
        _c("step", "integer", "the step's number in the job"),
        _c("call", "integer", "the call's place in the step, from 0"),
        _JOB_ID,
        _TENANT,
        _c("tool_name", "text", "the tool called, e.g. search_individual"),
        _c("engine_code", "text", "the engine behind it, e.g. aml-search", nullable=True),
        _c("execution_ms", "integer", "how long the call took"),
        _c("success", "boolean", "whether the call succeeded"),
    ),
    key=("position", "step", "call"),
    indexes=(("tenant", "tool_name"),),
    added_only=True,
)

COST_ATTEMPTS = Table(
    "cost_attempts",
    "The cost ledger per attempt, with how the attempt ended: spend on attempts that did "
    "not succeed is the cost of rows whose outcome is failed or cancelled.",
    (
        _JOB_ID,
        _c("attempt", "integer", "the attempt number"),
        _TENANT,
        _c("investigation_id", "text", "the job's investigation", nullable=True),
        _JOB_TYPE,
        _c("outcome", "text", "open, succeeded, failed or cancelled"),
        _c("usages", "integer", "usage records in the attempt"),
        _c("cost", "decimal", "priced cost of the attempt"),
    ),
    key=("job_id", "attempt"),
    indexes=(("tenant", "outcome"),),
)

COST_JOBS = Table(
    "cost_jobs",
    "Internal to the cost ledger projection: what it must remember of each job.",
    (
        _JOB_ID,
        _TENANT,
        _c("investigation_id", "text", "the job's investigation", nullable=True),
        _JOB_TYPE,
        _c("attempt", "integer", "the current attempt"),
    ),
    key=("job_id",),
    internal=True,
)

STEPS = Table(
    "steps",
    "One row per agent step, in the order the worker recorded them: the analysis report's "
    "audit log.",
    (
        _JOB_ID,
        _c("step", "integer", "its number in the job, from 1, in the order recorded"),
        _TENANT,
        _c("attempt", "integer", "the attempt it was recorded in"),
        _c("work_id", "integer", "the agent's work item"),
        _c("action_name", "text", "the action the agent ran"),
        _c("category", "text", "the action's category", nullable=True),
        _c("query", "text", "the query or instruction sent"),
        _c("reasoning", "text", "the agent's reasoning (may be empty)"),
        _c("success", "boolean", "whether it succeeded"),
        _c("iteration", "integer", "the agent's iteration"),
        _c("duration_ms", "integer", "how long it took"),
        _c("executed_at", "timestamp", "when the agent ran it"),
        _c(
            "verification_status",
            "text",
            "passed, needs_review or failed, when it has one",
            nullable=True,
        ),
        _c("target_item_ids", "text", "JSON array of the item ids it referred to"),
        _c("rag_response", "text", "JSON object of its RAG answer", nullable=True),
        _c("tool_calls", "text", "JSON array of its tool calls", nullable=True),
        _c("tool_count", "integer", "how many tools it called"),
        _c("model", "text", "the model whose tokens it used", nullable=True),
        _c("input_tokens", "integer", "prompt tokens"),
        _c("output_tokens", "integer", "completion tokens"),
        _c("cached_input_tokens", "integer", "cached prompt tokens"),
        _c("cost", "decimal", "priced cost; null when unpriced or no model", nullable=True),
        _c("recorded_at", "timestamp", "when the ledger recorded it"),
        _c("actor", "text", "the worker that recorded it"),
        _POSITION,
    ),
    key=("job_id", "step"),
    indexes=(("tenant", "action_name"),),
    added_only=True,
)

READ_MODEL_VERSIONS = Table(
    "read_model_versions",
    "Internal: the version of each read model's rules its rows were built by; a process "
    "whose read model is of a newer version drops the rows and rebuilds them from the events.",
    (
        _c("name", "text", "the read model (projection) name"),
        _c("version", "integer", "the version of its rules the rows were built by"),
    ),
    key=("name",),
    internal=True,
)

ALL_TABLES = (
    JOB_SUMMARIES,
    STATUS_HISTORY,
    STATUS_HISTORY_JOBS,
    TASKS,
    VERDICTS,
    TASK_SUBJECTS,
    JOB_STATUS_COUNTS,
    JOB_DAILY_STATISTICS,
    JOB_DURATION_HISTOGRAM,
    STATISTICS_JOBS,
    COST_ENTRIES,
    COST_TOOL_CALLS,
    COST_ATTEMPTS,
    COST_JOBS,
    STEPS,
    READ_MODEL_VERSIONS,
)
