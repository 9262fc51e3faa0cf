"""The bounds of what commands take, stated once.

The Ledger's commands and value objects use these aliases, and so does every
surface (the HTTP request bodies reuse them as they are), so a limit cannot drift
between the API and the domain. Each alias is strict: ``"7"`` is not 7.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, Strict

from jobledger.domain.errors import InvalidCommand

MAX_COUNT = 10**12  # tokens, or findings of one kind
MAX_LEASE_SECONDS = 86_400
DEFAULT_LEASE_SECONDS = 300
MAX_INPUTS = 1_000
FIRST_VERSION = 1
MAX_LOG_SIZE = 2**62  # leaves of the tamper-evident log: what the stores' 64-bit integers hold

Name = Annotated[str, Strict(), Field(min_length=1, max_length=256, pattern=r"\S")]
Identifier = Annotated[str, Strict(), Field(min_length=1, max_length=128)]
# Who a token names (its subject) and the tenant it acts in: printable, at most 256.
Subject = Annotated[str, Strict(), Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
Pool = Annotated[str, Strict(), Field(min_length=1, max_length=128, pattern=r"\S")]
LeaseId = Identifier
Reason = Annotated[str, Strict(), Field(max_length=2_000)]
Message = Annotated[str, Strict(), Field(max_length=4_000)]
ErrorCode = Annotated[
    str, Strict(), Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
MediaType = Annotated[
    str, Strict(), Field(min_length=3, max_length=128, pattern=r"^[\w.+-]+/[\w.+-]+$")
]
Uri = Annotated[str, Strict(), Field(max_length=2048)]
SizeBytes = Annotated[int, Strict(), Field(ge=0, le=10**18)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
Priority = Annotated[int, Strict(), Field(ge=0, le=9)]
MaxAttempts = Annotated[int, Strict(), Field(ge=1, le=20)]
LeaseSeconds = Annotated[float, Strict(), Field(gt=0, le=MAX_LEASE_SECONDS, allow_inf_nan=False)]

# Tasks: a job analysed by named workers, each scoring it (see task_lifecycle.py).
MAX_TASK_WORKERS = 50
MAX_ANALYSES = 100
UNCERTAIN = -1  # the score of an uncertain result
TaskScore = Annotated[int, Strict(), Field(ge=UNCERTAIN, le=100)]
TaskSubject = Annotated[str, Strict(), Field(min_length=1, max_length=512, pattern=r"\S")]
AnalysisId = Identifier
# Batches in the API: jobs submitted, jobs claimed, and worker commands sent by one request.
MAX_SUBMIT_BATCH = 100
MAX_CLAIM_BATCH = 10
MAX_COMMAND_BATCH = 100
ClaimBatchSize = Annotated[int, Strict(), Field(ge=1, le=MAX_CLAIM_BATCH)]

# An agent's steps (``domain/steps.py``): how many a batch, and how big each part.
MAX_STEPS_PER_BATCH = 100
MAX_TOOL_CALLS_PER_STEP = 50
MAX_TARGET_ITEMS = 200
MAX_CITATIONS = 200
MAX_STEP_TEXT = 16_000  # characters of a query, a reasoning, an answer, a reason
MAX_RAW_CONTENT_BYTES = 64 * 1024  # a tool call's raw content, as compact JSON
MAX_PARAMS_BYTES = 16 * 1024  # a tool call's parameters, as compact JSON
MAX_CITATIONS_BYTES = 64 * 1024  # a RAG response's citations, as compact JSON
MAX_BATCH_BYTES = 1024 * 1024  # a whole batch of steps, as compact JSON
MAX_DURATION_MS = 30 * 86_400_000  # thirty days
MAX_STEP_NUMBER = 10**9  # work ids and iterations

StepText = Annotated[str, Strict(), Field(max_length=MAX_STEP_TEXT)]
DurationMs = Annotated[int, Strict(), Field(ge=0, le=MAX_DURATION_MS)]
StepNumber = Annotated[int, Strict(), Field(ge=0, le=MAX_STEP_NUMBER)]
VerificationStatus = Literal["passed", "needs_review", "failed"]
VERIFICATION_STATUSES: tuple[VerificationStatus, ...] = get_args(VerificationStatus)
# How long a report request may wait for its job to finish, in seconds.
REPORT_WAIT_MIN_SECONDS = 10
REPORT_WAIT_MAX_SECONDS = 300
REPORT_WAIT_DEFAULT_SECONDS = 120

FindingKind = Literal["entities", "relationships", "anomalies", "predictions"]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)


def check_version(field: str, version: object) -> None:
    """A job version is a whole number from 1 (``True`` is not 1); None means none given."""
    if version is not None and (type(version) is not int or version < FIRST_VERSION):
        raise InvalidCommand(
            f"{field}: must be a whole number from {FIRST_VERSION}, got {version!r}"
        )
