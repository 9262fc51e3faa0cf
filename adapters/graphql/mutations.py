"""Submitting and cancelling, through the very functions REST's routes run
(``routes/jobs.py``: ``submit_job``, ``cancel_job``): the same checks, events and answers."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import strawberry
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from strawberry.experimental.pydantic import input as input_from
from strawberry.scalars import JSON

from jobledger.adapters.graphql.context import Context
from jobledger.adapters.graphql.enums import JobType
from jobledger.adapters.graphql.errors import InvalidInput
from jobledger.adapters.graphql.permissions import MayCancel, MaySubmit
from jobledger.adapters.graphql.types import Job, job_of
from jobledger.adapters.http.routes.jobs import cancel_job, submit_command_id, submit_job
from jobledger.adapters.http.schemas.jobs import CancelJob, InputIn, Storable, SubmitJob
from jobledger.domain.validation import describe
from jobledger.domain.values import CommandMeta, new_correlation_id

Info = strawberry.Info[Context, None]


@input_from(model=InputIn, all_fields=True, name="InputRefInput")
class InputRefInput:
    pass


class _Submitted(SubmitJob):
    """REST's body with ``config`` and ``metadata`` defaulting to null, not ``{}``:
    GraphQL introspection must print a default as a literal, and cannot print ``{}``
    of a JSON scalar."""

    config: Storable | None = None  # type: ignore[assignment]
    metadata: Storable | None = None  # type: ignore[assignment]


@input_from(model=_Submitted, all_fields=True, name="SubmitJobInput")
class SubmitJobInput:
    type: JobType  # type: ignore[valid-type]
    config: JSON | None
    metadata: JSON | None
    idempotency_key: str | None = strawberry.field(
        default=None, description="repeat a submit safely: the same key and input, the same job"
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="submit a job (analysts)", permission_classes=[MaySubmit])
    async def submit_job(self, info: Info, input: SubmitJobInput) -> Job:
        context = info.context
        principal = context.principal
        try:
            body = SubmitJob.model_validate(
                {name: getattr(input, name) for name in SubmitJob.model_fields}
                | {"config": input.config or {}, "metadata": input.metadata or {}}
                | {"inputs": [vars(i) for i in input.inputs]}  # type: ignore[attr-defined]
            )
        except ValidationError as error:
            raise InvalidInput(describe(error, prefix="input")) from None
        meta = CommandMeta(
            correlation_id=new_correlation_id(),
            command_id=submit_command_id(principal, input.idempotency_key, "idempotencyKey"),
        )
        _, envelope = await run_in_threadpool(submit_job, context.services, principal, body, meta)
        return job_of(envelope)

    @strawberry.mutation(
        description="cancel a job (its creator, or an admin); a running one is asked to stop",
        permission_classes=[MayCancel],
    )
    async def cancel_job(
        self,
        info: Info,
        id: UUID,
        reason: str = "",
        expected_version: Annotated[
            int | None,
            strawberry.argument(description="cancel only if the job is still at this version"),
        ] = None,
    ) -> Job:
        context = info.context
        try:
            checked = CancelJob(reason=reason)
        except ValidationError as error:
            raise InvalidInput(describe(error)) from None
        if_match = None if expected_version is None else f'"{expected_version}"'
        envelope = await run_in_threadpool(
            cancel_job,
            context.services,
            context.principal,
            id,
            checked.reason,
            new_correlation_id(),
            if_match,
        )
        return job_of(envelope)
