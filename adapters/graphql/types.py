"""The schema's object types: each made from the REST answer model it mirrors
(``adapters/http/schemas/jobs.py``) and filled from the same JSON-ready answers REST
sends (``adapters/http/envelope.py``), so REST and GraphQL cannot drift apart."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.experimental.pydantic import type as from_pydantic
from strawberry.scalars import JSON

from jobledger.adapters.graphql.context import Context
from jobledger.adapters.graphql.enums import JobStatus, JobType, Role, TaskState
from jobledger.adapters.graphql.models import built, object_type
from jobledger.adapters.graphql.permissions import MayAudit
from jobledger.adapters.graphql.results import ResultUnion, result_of
from jobledger.adapters.http import schemas
from jobledger.adapters.http.envelope import recorded_event
from jobledger.adapters.http.report import recorded_step
from jobledger.adapters.http.schemas import steps as step_api
from jobledger.adapters.http.schemas import tasks as task_api
from jobledger.adapters.http.schemas.jobs import JobSummary
from jobledger.adapters.store.sql.task_reads import JobTasks
from jobledger.domain.lifecycle import JobStatus as Status
from jobledger.projections.base import Row

api = schemas.jobs
Tokens = object_type(api.Tokens)
Money = object_type(api.Money)
Findings = object_type(api.Findings)
JobError = object_type(api.JobError)
InputRef = object_type(api.InputOut, name="InputRef")
StatusChange = object_type(api.StatusChange, from_status=JobStatus | None, to_status=JobStatus)
RecordedEvent = object_type(api.RecordedEvent)
Durations = object_type(api.Durations)
Statistics = object_type(api.StatsItem, name="Statistics", type=JobType)
CostTotal = object_type(api.CostItem, name="CostTotal")
TaskError = object_type(task_api.TaskError)
Task = object_type(task_api.Task, state=TaskState)
CountedScore = object_type(task_api.CountedScore)
Verdict = object_type(task_api.Verdict)
Step = object_type(step_api.RecordedStep, name="Step", mcp_tool_calls=list[JSON] | None)

Info = strawberry.Info[Context, None]


@from_pydantic(model=JobSummary, all_fields=True, description="a job: the REST envelope's fields")
class Job:
    type: JobType  # type: ignore[valid-type]

    @strawberry.field(description="set once the job has completed: typed by the job's type")
    async def result(self, info: Info) -> ResultUnion | None:  # type: ignore[valid-type]
        if self.status != Status.COMPLETED:  # type: ignore[attr-defined]
            return None
        _, found = await info.context.loaders.recorded.load((_id(self), True))
        return None if found is None else result_of(found)

    @strawberry.field(description="what was submitted beside the type; only for its creator")
    async def inputs(self, info: Info) -> list[InputRef] | None:  # type: ignore[valid-type]
        submission = await _submission(self, info)
        return None if submission is None else [_input(i) for i in submission.inputs]

    @strawberry.field(description="as submitted; only for its creator")
    async def config(self, info: Info) -> JSON | None:
        submission = await _submission(self, info)
        return None if submission is None else submission.config

    @strawberry.field(description="as submitted; only for its creator")
    async def metadata(self, info: Info) -> JSON | None:
        submission = await _submission(self, info)
        return None if submission is None else submission.metadata

    @strawberry.field(description="every change of status, oldest first")
    async def history(self, info: Info) -> list[StatusChange]:  # type: ignore[valid-type]
        rows = await info.context.loaders.history.load(_id(self))
        return [status_change(row) for row in rows]

    @strawberry.field(description="a job of tasks: what its named workers analyse")
    async def subject(self, info: Info) -> str | None:
        found = await _tasks(self, info)
        return found.tasks[0]["subject"] if found else None

    @strawberry.field(description="a job of tasks: one task per named worker")
    async def tasks(self, info: Info) -> list[Task] | None:  # type: ignore[valid-type]
        found = await _tasks(self, info)
        return [Task.from_pydantic(task_api.Task.of(t)) for t in found.tasks] if found else None

    @strawberry.field(description="a job of tasks: the verdict once every task is final")
    async def verdict(self, info: Info) -> Verdict | None:  # type: ignore[valid-type]
        found = await _tasks(self, info)
        if not found or found.verdict is None:
            return None
        decided: Verdict = Verdict.from_pydantic(task_api.Verdict.of(found.verdict))  # type: ignore[valid-type]
        return decided

    @strawberry.field(description="the agent's steps, in the order recorded (docs/steps.md)")
    async def steps(self, info: Info) -> list[Step]:  # type: ignore[valid-type]
        rows = await info.context.loaders.steps.load(_id(self))
        currency = info.context.services.currency
        return [built(Step, recorded_step(row, currency)) for row in rows]

    @strawberry.field(
        description="every event as stored (auditors only)", permission_classes=[MayAudit]
    )
    async def events(self, info: Info) -> list[RecordedEvent]:  # type: ignore[valid-type]
        found = await info.context.loaders.events.load(_id(self))
        reader = info.context.principal.subject
        return [RecordedEvent.from_pydantic(recorded_event(e, reader=reader)) for e in found]


def _input(recorded: dict[str, Any]) -> Any:
    """An input as recorded (snake_case, ``uri`` left out when it had none)."""
    return InputRef(**{name: recorded.get(name) for name in api.InputOut.model_fields})


# Helpers, not methods: the pydantic decorator remakes the class from its fields.
def _id(job: Job) -> str:
    return str(job.id)  # type: ignore[attr-defined]


async def _submission(job: Job, info: Info) -> Any:
    if job.created_by != info.context.principal.subject:  # type: ignore[attr-defined]
        return None
    completed = job.status == Status.COMPLETED  # type: ignore[attr-defined]
    submission, _ = await info.context.loaders.recorded.load((_id(job), completed))
    return submission


async def _tasks(job: Job, info: Info) -> JobTasks | None:
    """The tasks and verdict of a job of tasks, from the tasks read model (batched)."""
    found: JobTasks | None = await info.context.loaders.tasks.load(_id(job))
    return found


def job_of(summary: dict[str, Any]) -> Job:
    """A job from its REST summary or envelope (``summary_of``, ``envelope_of``)."""
    found: Job = built(Job, summary)
    return found


def status_change(row: Row) -> Any:
    return StatusChange(**{name: row[name] for name in api.StatusChange.model_fields})


@strawberry.type(description="the caller, as their token names them")
class Me:
    subject: str
    tenant: str
    roles: list[Role]  # type: ignore[valid-type]


@strawberry.type(description="one change of a job, as a subscription delivers it")
class JobChange:
    position: int = strawberry.field(description="the change's log position: resume after it")
    event: str = strawberry.field(description="the event's name, or Snapshot for the start")
    job: Job
