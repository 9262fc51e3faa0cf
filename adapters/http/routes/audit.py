"""Raw events and replays of a job, for auditors."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from jobledger.adapters.auth.tokens import Principal, Role
from jobledger.adapters.http.answers import json_answer
from jobledger.adapters.http.envelope import recorded_event
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.schemas.jobs import IsoDateTime, JobEnvelope, JobEvents
from jobledger.adapters.http.security import allowed
from jobledger.adapters.http.services import ServicesDep
from jobledger.adapters.store import backend_of
from jobledger.domain.errors import InvalidCommand

router = APIRouter(prefix="/v1/jobs", tags=["audit"])
Auditor = Annotated[Principal, Depends(allowed(Role.AUDITOR, to="read raw events and replays"))]


@router.get(
    "/{job_id}/events",
    summary="Every event of a job, as stored",
    responses=responses(401, 403, 404, 422),
)
def events(job_id: UUID, principal: Auditor, services: ServicesDep) -> JobEvents:
    found = services.ledger.job_events(job_id, tenant=principal.tenant)
    log = backend_of(services.ledger).audit_log(services.ledger)
    leaves = {record.version: record for record, _ in log.leaves(job_id)}
    items = []
    for event in found:
        item = recorded_event(event, reader=principal.subject)
        record = leaves.get(item.version)
        if record is not None:
            item.position = record.position
            item.leaf_index = record.index
            item.leaf = record.leaf.hex()
            item.previous = record.previous.hex()
        items.append(item)
    return JobEvents(job_id=job_id, items=items)


@router.get(
    "/{job_id}/replay",
    summary="A job as it stood at a version or a moment, rebuilt from its events",
    response_model=JobEnvelope,
    responses=responses(401, 403, 404, 422),
)
def replay(
    job_id: UUID,
    principal: Auditor,
    services: ServicesDep,
    response: Response,
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: Annotated[IsoDateTime | None, Query(alias="asOf")] = None,
) -> Response:
    if (version is None) == (as_of is None):
        raise InvalidCommand("give exactly one of version or asOf")
    if as_of is not None:
        version = services.ledger.get_as_of(job_id, as_of, tenant=principal.tenant).version
    else:
        newest = services.ledger.get(job_id, tenant=principal.tenant).version
        if version is not None and version > newest:
            raise InvalidCommand(f"version: job {job_id} has versions 1 to {newest}")
    return json_answer(services.envelope_at(principal, job_id, version), response)
