"""Reading the read models asynchronously, the same SQL on every store, for the CLI and the
HTTP API (each store's folder supplies the connections).

Every answer carries ``position``: how far the read model has got in the
ledger's log, so a caller can wait for its own write (read your writes).
Money is summed in Python as Decimal, never by SQL as floats.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jobledger.adapters.store.sql.writer import from_sql, to_sql
from jobledger.domain.bounds import Identifier, Name, Subject
from jobledger.domain.errors import InvalidCommand, JobNotFound
from jobledger.domain.lifecycle import LEASED, JobStatus
from jobledger.domain.validation import describe, storable_text
from jobledger.projections import schema
from jobledger.projections.statistics import quantile_ms

T = TypeVar("T")
Row = dict[str, Any]


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A result and the log position the read model had reached when it was read."""

    value: T
    position: int


@dataclass(frozen=True)
class JobPage:
    items: list[Row]
    next_cursor: str | None
    position: int


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    _storable = model_validator(mode="after")(storable_text)


PageSize = Annotated[int, Field(ge=1, le=500)]
Cursor = Annotated[str, Field(max_length=1000)]  # opaque; ours are far shorter
Order = Literal["newest", "oldest"]


class JobQuery(_Query):
    """The list's filters; the HTTP query parameters take their bounds from these."""

    tenant: str | None = None
    status: list[JobStatus] | None = None
    job_type: str | None = None
    investigation_id: Identifier | None = None
    created_by: Subject | None = None
    agent: Name | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: PageSize = 50
    cursor: Cursor | None = None
    order: Order = "newest"


class StatsQuery(_Query):
    tenant: str | None = None
    job_type: str | None = None
    since: date | None = None
    until: date | None = None


# How costs may be grouped; action and tool group the priced agent steps.
CostGrouping = Literal[
    "tenant", "investigation", "model", "day", "job", "attempt", "action", "tool"
]


# A second key within each group (cost per day by model, or by investigation).
CostSplit = Literal["model", "investigation"]
_COST_COLUMNS = {
    "tenant": "e.tenant",
    "investigation": "e.investigation_id",
    "model": "e.model",
    "day": "e.day",
    "job": "e.job_id",
    "attempt": "e.attempt",
    "action": "e.action",
    "tool": "t.tool_name",
}


class CostQuery(_Query):
    group_by: CostGrouping = "tenant"
    split: CostSplit | None = None  # only with group_by day
    tenant: str | None = None
    job_id: UUID | None = None  # one job's costs (its details page: by model, by attempt)
    since: date | None = None
    until: date | None = None

    @field_validator("split")
    @classmethod
    def _per_day(cls, split: CostSplit | None, info: ValidationInfo) -> CostSplit | None:
        if split is not None and info.data.get("group_by") != "day":
            raise ValueError("splits cost per day only: give it with groupBy=day")
        return split


@dataclass
class StatsRow:
    tenant: str
    job_type: str
    status_counts: dict[str, int] = field(default_factory=dict)
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced_usages: int = 0
    run_ms_total: int = 0
    queue_wait_ms_total: int = 0
    run_ms_p50: int | None = None
    run_ms_p95: int | None = None
    queue_wait_ms_p50: int | None = None
    queue_wait_ms_p95: int | None = None

    @property
    def queue_depth(self) -> int:
        return self.status_counts.get("queued", 0)

    @property
    def working(self) -> int:
        return sum(self.status_counts.get(s.value, 0) for s in LEASED)

    @property
    def failure_rate(self) -> float | None:
        ended = self.completed + self.failed
        return None if ended == 0 else self.failed / ended

    @property
    def run_ms_average(self) -> float | None:
        return None if self.completed == 0 else self.run_ms_total / self.completed

    @property
    def queue_wait_ms_average(self) -> float | None:
        return None if self.completed == 0 else self.queue_wait_ms_total / self.completed


@dataclass
class CostTotal:
    key: str | None
    split: str | None = None  # the split's value (model or investigation) when split
    usages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost: Decimal = Decimal(0)
    unsuccessful_cost: Decimal = Decimal(0)
    unpriced_usages: int = 0


@dataclass
class DailyRow:
    day: str
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    cost: Decimal = Decimal(0)
    unpriced_usages: int = 0


DAILY_FIELDS = [f for f in DailyRow.__dataclass_fields__ if f != "day"]


def parse_query(model: type[Q], **fields: Any) -> Q:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise InvalidCommand(describe(error)) from None


Q = TypeVar("Q", bound=_Query)


class ReadStore(ABC):
    """Queries over the read models, the same on every store; a subclass supplies the
    connection (one at a time: a pool hands stores out)."""

    @abstractmethod
    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        """Run one statement (``?`` placeholders) and return its rows by column name."""

    @abstractmethod
    def snapshot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """One read transaction: every query of an answer sees the same moment."""

    async def _key_rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        """Run one statement that finds its rows by key (an index lookup, a few rows): a
        store may answer it without a round trip through another thread (inside
        ``snapshot``, it must still read that snapshot)."""
        return await self._rows(sql, params)

    async def position(self, projection: str) -> int:
        found = await self._rows(
            "SELECT notification_id FROM tracking WHERE application_name = ?", [projection]
        )
        return int(found[0]["notification_id"]) if found else 0

    async def summary(self, job_id: UUID, tenant: str | None = None) -> Answer[Row]:
        """One statement (one snapshot, one round trip): the API's most frequent read,
        long polls included."""
        table = schema.JOB_SUMMARIES
        where, params = _scope(tenant, None)
        records = await self._key_rows(
            f"SELECT s.*, (SELECT notification_id FROM tracking "
            f"WHERE application_name = 'job_summaries') AS reached "
            f"FROM {table.name} s WHERE job_id = ? AND {where}",
            [str(job_id), *params],
        )
        if not records:
            raise JobNotFound(job_id)
        record = records[0]
        row = {c.name: from_sql(c.type, record[c.name]) for c in table.columns}
        return Answer(row, int(record["reached"] or 0))

    async def claimable(
        self, tenant: str, now: datetime, types: Sequence[str], pool: str | None, limit: int
    ) -> list[tuple[str, int]]:
        """(job id, version) of the queued jobs an agent may claim now, in the order to
        try them: highest priority, then oldest. An agent of a pool may take that pool's
        jobs and those submitted without one; an agent of no pool, only the latter."""
        clauses = ["tenant = ?", "status = 'queued'", "(not_before IS NULL OR not_before <= ?)"]
        # A job of tasks is claimed task by task, by its named workers.
        clauses.append(
            f"NOT EXISTS (SELECT 1 FROM {schema.TASKS.name} t WHERE t.job_id = s.job_id)"
        )
        params: list[Any] = [tenant, to_sql("timestamp", _aware(now, "now"))]
        if types:
            clauses.append(f"job_type IN ({', '.join('?' * len(types))})")
            params += list(types)
        if pool is None:
            clauses.append("pool IS NULL")
        else:
            clauses.append("(pool IS NULL OR pool = ?)")
            params.append(pool)
        records = await self._rows(
            f"SELECT job_id, version FROM {schema.JOB_SUMMARIES.name} s "
            f"WHERE {' AND '.join(clauses)} "
            f"ORDER BY priority DESC, created_at, job_id LIMIT {int(limit)}",
            params,
        )
        return [(str(r["job_id"]), int(r["version"])) for r in records]

    async def list_jobs(self, query: JobQuery) -> JobPage:
        async with self.snapshot():
            return await self._list_jobs(query)

    async def _list_jobs(self, query: JobQuery) -> JobPage:
        position = await self.position("job_summaries")
        clauses, params = _filters(query)
        newest = query.order == "newest"
        if query.cursor is not None:
            created_at, job_id = _read_cursor(query.cursor, query.order)
            beyond = "<" if newest else ">"
            clauses.append(f"(created_at {beyond} ? OR (created_at = ? AND job_id {beyond} ?))")
            params += [created_at, created_at, job_id]
        direction = "DESC" if newest else "ASC"
        rows = await self._select(
            schema.JOB_SUMMARIES,
            " AND ".join(clauses)
            + f" ORDER BY created_at {direction}, job_id {direction} LIMIT {query.limit + 1}",
            params,
        )
        more = len(rows) > query.limit
        items = rows[: query.limit]
        cursor = _write_cursor(items[-1], query.order) if more else None
        return JobPage(items, cursor, position)

    async def count_jobs(self, query: JobQuery) -> int:
        """How many jobs the list's filters match (its cursor and limit aside)."""
        clauses, params = _filters(query)
        found = await self._rows(
            f"SELECT COUNT(*) AS n FROM {schema.JOB_SUMMARIES.name} WHERE {' AND '.join(clauses)}",
            params,
        )
        return int(found[0]["n"])

    async def histories(self, job_ids: Sequence[str], tenant: str) -> dict[str, list[Row]]:
        """The status history of many jobs in one statement (a page of jobs, each with its
        history, costs one query, not one per job)."""
        return await self.by_job(schema.STATUS_HISTORY, job_ids, tenant, order="version")

    async def steps_of(self, job_ids: Sequence[str], tenant: str) -> dict[str, list[Row]]:
        """The agent steps of many jobs in one statement, each job's in recorded order."""
        return await self.by_job(schema.STEPS, job_ids, tenant, order="step")

    async def by_job(
        self, table: schema.Table, job_ids: Sequence[str], tenant: str, *, order: str
    ) -> dict[str, list[Row]]:
        """The rows of ``table`` for each of ``job_ids`` (of ``tenant``), in one statement."""
        if not job_ids:
            return {}
        rows = await self._select(
            table,
            f"tenant = ? AND job_id IN ({', '.join('?' * len(job_ids))}) ORDER BY job_id, {order}",
            [tenant, *job_ids],
        )
        found: dict[str, list[Row]] = {job_id: [] for job_id in job_ids}
        for row in rows:
            found[str(row["job_id"])].append(row)
        return found

    async def history(self, job_id: UUID, tenant: str | None = None) -> Answer[list[Row]]:
        async with self.snapshot():
            position = await self.position("status_history")
            where, params = _scope(tenant, None)
            rows = await self._select(
                schema.STATUS_HISTORY,
                f"job_id = ? AND {where} ORDER BY version",
                [str(job_id), *params],
            )
        if not rows:
            raise JobNotFound(job_id)
        return Answer(rows, position)

    async def steps(self, job_id: UUID, tenant: str | None = None) -> Answer[list[Row]]:
        """A job's agent steps in the order recorded (none yet: an empty list)."""
        async with self.snapshot():
            position = await self.position("steps")
            where, params = _scope(tenant, None)
            rows = await self._select(
                schema.STEPS, f"job_id = ? AND {where} ORDER BY step", [str(job_id), *params]
            )
        return Answer(rows, position)

    async def statistics(self, query: StatsQuery) -> Answer[list[StatsRow]]:
        """One row per tenant and job type, from the precomputed statistics tables."""
        async with self.snapshot():
            return await self._statistics(query)

    async def _statistics(self, query: StatsQuery) -> Answer[list[StatsRow]]:
        position = await self.position("statistics")
        where, params = _scope(query.tenant, query.job_type)
        rows: dict[tuple[str, str], StatsRow] = {}

        def row_for(record: Row) -> StatsRow:
            key = (record["tenant"], record["job_type"])
            return rows.setdefault(key, StatsRow(*key))

        for record in await self._select(schema.JOB_STATUS_COUNTS, where, params):
            row_for(record).status_counts[record["status"]] = record["jobs"]
        days, day_params = _days(query.since, query.until)
        daily_fields = [c.name for c in schema.JOB_DAILY_STATISTICS.columns[3:]]
        for record in await self._select(
            schema.JOB_DAILY_STATISTICS, f"{where} AND {days}", params + day_params
        ):
            row = row_for(record)
            for name in daily_fields:
                setattr(row, name, getattr(row, name) + record[name])
        buckets: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for record in await self._select(
            schema.JOB_DURATION_HISTOGRAM, f"{where} AND {days}", params + day_params
        ):
            row_for(record)
            key = (record["tenant"], record["job_type"], record["measure"])
            buckets[key][record["bucket"]] += record["jobs"]
        for (tenant, job_type, measure), counts in buckets.items():
            row = rows[(tenant, job_type)]
            setattr(row, f"{measure}_ms_p50", quantile_ms(counts.items(), 0.50))
            setattr(row, f"{measure}_ms_p95", quantile_ms(counts.items(), 0.95))
        return Answer(sorted(rows.values(), key=lambda r: (r.tenant, r.job_type)), position)

    async def daily(self, query: StatsQuery) -> Answer[list[DailyRow]]:
        """What each UTC day saw, over the tenant's job types: jobs submitted and ended
        by how, attempts retried, and the cost of the usage recorded that day."""
        async with self.snapshot():
            position = await self.position("statistics")
            where, params = _scope(query.tenant, query.job_type)
            days, day_params = _days(query.since, query.until)
            rows: dict[str, DailyRow] = {}
            for record in await self._select(
                schema.JOB_DAILY_STATISTICS, f"{where} AND {days}", params + day_params
            ):
                row = rows.setdefault(record["day"], DailyRow(record["day"]))
                for name in DAILY_FIELDS:
                    setattr(row, name, getattr(row, name) + record[name])
            return Answer(sorted(rows.values(), key=lambda r: r.day), position)

    async def costs(self, query: CostQuery) -> Answer[list[CostTotal]]:
        """Totals of the cost ledger grouped one way, unsuccessful attempts shown apart."""
        async with self.snapshot():
            return await self._costs(query)

    async def _costs(self, query: CostQuery) -> Answer[list[CostTotal]]:
        position = await self.position("cost_ledger")
        key = _COST_COLUMNS[query.group_by]
        split = _COST_COLUMNS[query.split] if query.split else "NULL"
        where, params = _scope(query.tenant, None, prefix="e.")
        if query.job_id is not None:
            where += " AND e.job_id = ?"
            params.append(str(query.job_id))
        days, day_params = _days(query.since, query.until, column="e.day")
        # By tool: each tool call of a priced step counts the step's usage (see the table).
        tools = (
            "JOIN cost_tool_calls t ON t.position = e.position AND t.step = e.step "
            if query.group_by == "tool"
            else ""
        )
        sql = (
            f"SELECT {key} AS k, {split} AS s, e.input_tokens, e.output_tokens, "
            "e.cached_input_tokens, e.cost, "
            f"a.outcome FROM cost_entries e {tools}LEFT JOIN cost_attempts a "
            "ON a.job_id = e.job_id AND a.attempt = e.attempt "
            f"WHERE {where} AND {days}"
        )
        totals: dict[tuple[str | None, str | None], CostTotal] = {}
        for record in await self._rows(sql, params + day_params):
            k = None if record["k"] is None else str(record["k"])
            part = None if record["s"] is None else str(record["s"])
            total = totals.setdefault((k, part), CostTotal(k, part))
            total.usages += 1
            total.input_tokens += record["input_tokens"]
            total.output_tokens += record["output_tokens"]
            total.cached_input_tokens += record["cached_input_tokens"]
            if record["cost"] is None:
                total.unpriced_usages += 1
                continue
            cost = Decimal(record["cost"])
            total.cost += cost
            if record["outcome"] in ("failed", "cancelled"):
                total.unsuccessful_cost += cost
        numeric = query.group_by == "attempt"
        ordered = sorted(
            totals.values(),
            key=lambda t: (
                t.key is None,
                int(t.key or 0) if numeric else t.key or "",
                t.split is None,
                t.split or "",
            ),
        )
        return Answer(ordered, position)

    async def _select(self, table: schema.Table, where: str, params: Sequence[Any]) -> list[Row]:
        kinds = {c.name: c.type for c in table.columns}
        records = await self._rows(f"SELECT * FROM {table.name} WHERE {where}", params)
        return [{name: from_sql(kinds[name], record[name]) for name in kinds} for record in records]


class ReadStorePool(ABC):
    """Read stores shared by many requests: a request holds one at a time, so a read
    transaction is never interleaved with another request's queries."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def store(self) -> contextlib.AbstractAsyncContextManager[ReadStore]: ...


def ask(pool: ReadStorePool, question: Callable[[ReadStore], Awaitable[T]]) -> T:
    """Run one query of an async store from synchronous code (the CLI, tests)."""

    async def run() -> T:
        await pool.open()
        try:
            async with pool.store() as store:
                return await question(store)
        finally:
            await pool.close()

    return asyncio.run(run())


def _filters(query: JobQuery) -> tuple[list[str], list[Any]]:
    """The WHERE clauses of the list's filters (all must hold) and their parameters."""
    clauses, params = ["1 = 1"], []
    for column, value in (
        ("tenant", query.tenant),
        ("job_type", query.job_type),
        ("investigation_id", query.investigation_id),
        ("created_by", query.created_by),
        ("agent", query.agent),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.status:
        clauses.append(f"status IN ({', '.join('?' * len(query.status))})")
        params += [s.value for s in query.status]
    if query.created_after is not None:
        clauses.append("created_at >= ?")
        params.append(to_sql("timestamp", _aware(query.created_after, "created_after")))
    if query.created_before is not None:
        clauses.append("created_at < ?")
        params.append(to_sql("timestamp", _aware(query.created_before, "created_before")))
    return clauses, params


def _scope(tenant: str | None, job_type: str | None, prefix: str = "") -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    if tenant is not None:
        clauses.append(f"{prefix}tenant = ?")
        params.append(tenant)
    if job_type is not None:
        clauses.append(f"{prefix}job_type = ?")
        params.append(job_type)
    return " AND ".join(clauses), params


def _days(since: date | None, until: date | None, column: str = "day") -> tuple[str, list[Any]]:
    """``since`` and ``until`` are inclusive UTC dates."""
    clauses, params = ["1 = 1"], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(since.isoformat())
    if until is not None:
        clauses.append(f"{column} <= ?")
        params.append(until.isoformat())
    return " AND ".join(clauses), params


def _aware(moment: datetime, name: str) -> datetime:
    """In UTC, as stored: times compare as text only within one offset."""
    if moment.tzinfo is None:
        raise InvalidCommand(f"{name}: give a time zone (e.g. 2026-11-22T09:30:00Z)")
    return moment.astimezone(UTC)


def _write_cursor(row: Row, order: str) -> str:
    payload = {"t": to_sql("timestamp", row["created_at"]), "i": row["job_id"], "o": order}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def cursor_at(row: Row, order: Order) -> str:
    """A cursor that continues the list, in ``order``, just past ``row``."""
    return _write_cursor(row, order)


def turned(cursor: str, order: Order) -> str:
    """The same place as ``cursor`` (of a list in ``order``), continuing the other way:
    paging backwards is paging forwards in the opposite order."""
    created_at, job_id = _read_cursor(cursor, order)
    payload = {"t": created_at, "i": job_id, "o": "oldest" if order == "newest" else "newest"}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _read_cursor(cursor: str, order: str) -> tuple[str, str]:
    """The (created_at, job_id) a page ended at; a cursor is opaque to callers."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not all(isinstance(payload.get(k), str) for k in ("t", "i", "o")):
            raise ValueError("cursor fields must be text")
        moment = datetime.fromisoformat(payload["t"])
        if moment.tzinfo is None:
            raise ValueError("cursor time has no offset")
        created_at = to_sql("timestamp", moment.astimezone(UTC))
        job_id, cursor_order = str(UUID(payload["i"])), payload["o"]
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, binascii.Error):
        raise InvalidCommand("cursor: not a cursor this ledger issued") from None
    if cursor_order != order:
        raise InvalidCommand(f"cursor: it continues a list in {cursor_order} order, not {order}")
    return created_at, job_id
