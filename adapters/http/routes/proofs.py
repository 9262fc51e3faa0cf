"""Checkpoints and proofs for auditors: leaves, not contents, cross tenants (a tenant's
auditor proves their jobs' events against the whole log without seeing others')."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from jobledger.adapters.audit.auditor import StoredTree, prove_job, take_checkpoint
from jobledger.adapters.audit.signing import ledger_key
from jobledger.adapters.auth.tokens import Principal, Role
from jobledger.adapters.http.problems import CheckpointNotFound, responses
from jobledger.adapters.http.schemas.audit import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    JobProofOut,
)
from jobledger.adapters.http.security import allowed
from jobledger.adapters.http.services import Services, ServicesDep
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.merkle import consistency_proof
from jobledger.domain.bounds import MAX_LOG_SIZE
from jobledger.domain.errors import InvalidCommand

router = APIRouter(prefix="/v1/audit", tags=["audit"])
job_router = APIRouter(prefix="/v1/jobs", tags=["audit"])
Auditor = Annotated[
    Principal,
    Depends(allowed(Role.AUDITOR, Role.ADMIN, to="read the log's checkpoints and proofs")),
]


def audit_log(services: Services) -> SqlAuditLog:
    return backend_of(services.ledger).audit_log(services.ledger)


def checkpoint_of(log: SqlAuditLog, size: int | None) -> Checkpoint:
    found = log.checkpoints(size)
    if not found:
        raise CheckpointNotFound(
            "no checkpoint yet" if size is None else f"no checkpoint of size {size}"
        )
    return found[-1]


def take_now(services: Services, log: SqlAuditLog) -> Checkpoint:
    return take_checkpoint(log, ledger_key(services.settings), datetime.now(UTC))


@router.get(
    "/checkpoints",
    summary="The latest signed checkpoint of the log, or the one of a given size",
    responses=responses(401, 403, 404, 422),
)
def checkpoints(
    principal: Auditor,
    services: ServicesDep,
    size: Annotated[int | None, Query(ge=0, le=MAX_LOG_SIZE)] = None,
) -> CheckpointOut:
    return CheckpointOut.of(checkpoint_of(audit_log(services), size))


@router.post(
    "/checkpoints",
    summary="Take and sign a checkpoint of the log now",
    responses=responses(401, 403),
)
def checkpoint_now(principal: Auditor, services: ServicesDep) -> CheckpointOut:
    log = audit_log(services)
    return CheckpointOut.of(take_now(services, log))


@router.get(
    "/consistency",
    summary="Proof that the log at one checkpoint's size extends the log at an earlier one",
    responses=responses(401, 403, 422),
)
def consistency(
    principal: Auditor,
    services: ServicesDep,
    from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_LOG_SIZE)],
    to_size: Annotated[int, Query(alias="to", ge=0, le=MAX_LOG_SIZE)],
) -> ConsistencyProofOut:
    log = audit_log(services)
    size = log.size()
    if not from_size <= to_size <= size:
        raise InvalidCommand(f"from, to: need from <= to <= {size:,} (the log's size)")
    proof = consistency_proof(from_size, to_size, StoredTree(log))
    return ConsistencyProofOut(from_size=from_size, to_size=to_size, proof=[p.hex() for p in proof])


@job_router.get(
    "/{job_id}/proof",
    summary="Inclusion proofs of a job's events in the latest or a given checkpoint",
    responses=responses(401, 403, 404, 422),
)
def job_proof(
    job_id: UUID,
    principal: Auditor,
    services: ServicesDep,
    size: Annotated[int | None, Query(ge=1, le=MAX_LOG_SIZE)] = None,
) -> JobProofOut:
    """Without ``size``: the latest checkpoint, or a new one when the latest does not
    yet hold every event of the job."""
    services.ledger.job_events(job_id, tenant=principal.tenant)  # 404 for other tenants
    log = audit_log(services)
    if size is not None:
        against = checkpoint_of(log, size)
    else:
        kept = log.checkpoints()
        newest = max(r.index for r, _ in log.leaves(job_id))
        against = kept[-1] if kept and kept[-1].tree_size > newest else take_now(services, log)
    proofs = prove_job(log, job_id, against)
    return JobProofOut(
        job_id=job_id,
        checkpoint=CheckpointOut.of(against),
        items=[
            InclusionProofOut(
                version=p.version,
                position=p.position,
                leaf_index=p.leaf_index,
                leaf=p.leaf.hex(),
                proof=[h.hex() for h in p.proof],
            )
            for p in proofs
        ],
    )
