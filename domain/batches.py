"""The rules of batches: how many jobs one submit, and one claim, may take, and how
many worker commands one batch may carry.

``SubmitMany`` is what ``Ledger.submit_many`` checks a batch against; ``ClaimMany`` is
a claim's rules with how many jobs it takes; ``CommandMany`` states the bounds of a
batch of worker commands, which the HTTP body publishes and a test holds them to
(``execute_many`` refuses a longer batch by the same ``MAX_COMMAND_BATCH``; each command
is checked by its own command's rules).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from jobledger.domain.bounds import MAX_COMMAND_BATCH, MAX_SUBMIT_BATCH, ClaimBatchSize
from jobledger.domain.commands import Claim
from jobledger.domain.values import JobSpec


class SubmitMany(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs: Annotated[list[JobSpec], Field(min_length=1, max_length=MAX_SUBMIT_BATCH)]


class ClaimMany(Claim):
    max: ClaimBatchSize = 1


class CommandMany(BaseModel):
    model_config = ConfigDict(frozen=True)

    commands: Annotated[list[Any], Field(min_length=1, max_length=MAX_COMMAND_BATCH)]
