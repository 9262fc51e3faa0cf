"""The bodies and answers of batches: several submits, or several claims, a request."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictStr

from jobledger.adapters.http.schemas.jobs import ApiModel, SubmitJob
from jobledger.adapters.http.schemas.workers import ClaimedJob, ClaimJob
from jobledger.domain.bounds import MAX_CLAIM_BATCH, MAX_SUBMIT_BATCH, ClaimBatchSize

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
