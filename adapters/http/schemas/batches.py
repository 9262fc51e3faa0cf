"""The bodies and answers of batches: several submits, claims, or worker commands, a
request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictStr, create_model
from pydantic.alias_generators import to_pascal

from jobledger.adapters.http.schemas.jobs import ApiModel, SubmitJob
from jobledger.adapters.http.schemas.workers import (
    ClaimedJob,
    ClaimJob,
    LeasedCommand,
    WorkerAnswer,
)
from jobledger.domain.bounds import (
    MAX_CLAIM_BATCH,
    MAX_COMMAND_BATCH,
    MAX_SUBMIT_BATCH,
    ClaimBatchSize,
)

IdempotencyKey = Annotated[StrictStr, Field(pattern=r"^[\x21-\x7e]{1,200}$")]


class BatchItem(SubmitJob):
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="this item's Idempotency-Key: a repeat with the same key and item gets "
        "the first answer",
    )


class SubmitBatch(ApiModel):
    jobs: Annotated[list[BatchItem], Field(min_length=1, max_length=MAX_SUBMIT_BATCH)]


class ItemProblem(ApiModel):
    code: str
    detail: str


class BatchOutcome(ApiModel):
    """One item's answer: ``status`` 202 with the job, or the problem that refused it."""

    index: int
    status: int = Field(description="202: submitted (or a repeat); else the problem's status")
    job_id: UUID | None = None
    version: int | None = None
    job_status: str | None = None
    location: str | None = None
    replayed: bool = False
    problem: ItemProblem | None = None


class SubmitBatchAnswer(ApiModel):
    items: list[BatchOutcome]
    submitted: int = Field(description="items that recorded a new job")


class ClaimJobs(ClaimJob):
    max: ClaimBatchSize = Field(default=MAX_CLAIM_BATCH, description="claim at most this many jobs")


class ClaimedJobs(ApiModel):
    claims: list[ClaimedJob] = Field(description="each with its own lease; empty: none")


# -- worker commands of several jobs ------------------------------------------------


class CommandItem(ApiModel):
    """What every item of a command batch names besides its action's own fields."""

    job_id: UUID = Field(description="the claimed job the command acts on")


def command_batch(bodies: Mapping[str, type[LeasedCommand]]) -> type[ApiModel]:
    """The body of a command batch: items told apart by ``action``, each with the fields
    of that action's own endpoint (``bodies``, the single endpoints' models), so each rule
    is stated once."""
    items: Any = tuple(
        create_model(
            f"{to_pascal(action.replace('-', '_'))}Item",
            __base__=(CommandItem, body),
            action=(
                cast(Any, Literal)[action],
                Field(description=f"as POST /v1/jobs/{{job_id}}/{action}"),
            ),
        )
        for action, body in bodies.items()
    )
    item: Any = Annotated[Union[items], Field(discriminator="action")]  # noqa: UP007
    return create_model(
        "WorkerCommands",
        __base__=ApiModel,
        commands=(
            Annotated[list[item], Field(min_length=1, max_length=MAX_COMMAND_BATCH)],
            Field(description="answered in order; commands on one job run in this order"),
        ),
    )


class CommandProblem(BaseModel):
    """Why an item was refused: the code and detail its own endpoint's problem gives, and
    the same facts (``currentState``, ``leaseState``, ``currentVersion``...)."""

    model_config = ConfigDict(extra="allow")

    code: str
    detail: str


class CommandOutcome(ApiModel):
    """One item's answer: ``status`` 200 with where the job stands (as the single
    endpoint answers), or the problem that refused it."""

    index: int
    job_id: UUID
    action: str
    status: int = Field(description="200: done (or a repeat); else the problem's status")
    replayed: bool = Field(default=False, description="a repeat of a command id: nothing new")
    answer: WorkerAnswer | None = None
    problem: CommandProblem | None = None


class CommandsAnswer(ApiModel):
    items: list[CommandOutcome]
    applied: int = Field(description="items that recorded something new")
