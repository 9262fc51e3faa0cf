"""Liveness, readiness and metrics, for whoever runs the server."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.metrics import ledger_gauges
from jobledger.adapters.http.problems import responses
from jobledger.adapters.http.readiness import StillWaiting
from jobledger.adapters.http.schemas.jobs import Health
from jobledger.adapters.http.security import READERS, allowed
from jobledger.adapters.http.services import ServicesDep
from jobledger.adapters.store.sql.read_store import StatsQuery
from jobledger.projections.catalog import PROJECTION_NAMES

log = logging.getLogger("jobledger.http")
router = APIRouter(tags=["operations"])
READY_TIMEOUT_SECONDS = 3.0  # a store that is down makes connections wait, not fail


@router.get("/healthz", summary="The process is alive (no token needed)")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The stores answer and the read models are close behind the ledger (no token needed)",
    response_model=Health,
    responses={503: {"model": Health, "description": "not ready"}},
)
async def readyz(services: ServicesDep) -> Health | JSONResponse:
    """Open, as container probes send no token: it tells only positions and whether the
    stores answer, nothing of any tenant."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            ledger_position = await services.readiness.read(
                lambda: _ledger_position(services), READY_TIMEOUT_SECONDS
            )
            async with services.reads.store() as store:
                positions = [await store.position(name) for name in PROJECTION_NAMES]
    except StillWaiting:
        return _unready("the previous readiness check is still waiting for a store")
    except TimeoutError:
        return _unready(f"a store did not answer within {READY_TIMEOUT_SECONDS:g} s")
    except Exception as error:  # readiness reports a broken store, it does not raise
        # Only the error's kind: the probe is open to all, and messages name hosts.
        log.warning("readiness: a store did not answer: %s", error)
        return _unready(f"a store did not answer ({type(error).__name__}; see the server's log)")
    position = min(positions)
    lag = max(ledger_position - position, 0)
    health = Health(status="ok", position=position, ledger_position=ledger_position, lag=lag)
    if lag > services.settings.ready_max_lag:
        health.status, health.detail = (
            "unavailable",
            (
                f"the read models are {lag:,} log entries behind "
                f"(at most {services.settings.ready_max_lag:,} allowed)"
            ),
        )
        return JSONResponse(health.model_dump(mode="json", by_alias=True), 503)
    if services.changes is not None and not services.changes.alive():
        return _unready("this process no longer hears of changes (see its log)")
    return health


def _unready(detail: str) -> JSONResponse:
    health = Health(status="unavailable", detail=detail)
    return JSONResponse(health.model_dump(mode="json", by_alias=True), 503)


def _ledger_position(services: ServicesDep) -> int:
    return services.ledger.recorder.max_notification_id() or 0


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, jobs of the caller's tenant, lag",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **responses(401, 403),
    },
)
async def metrics(
    principal: Annotated[Principal, Depends(allowed(*READERS, to="read metrics"))],
    services: ServicesDep,
) -> Response:
    ledger_position = await run_in_threadpool(_ledger_position, services)
    async with services.reads.store() as store:
        positions = {name: await store.position(name) for name in PROJECTION_NAMES}
        stats = await store.statistics(StatsQuery(tenant=principal.tenant))
    counts: dict[str, int] = {}
    for row in stats.value:
        for status, jobs in row.status_counts.items():
            counts[status] = counts.get(status, 0) + jobs
    gauges = ledger_gauges(
        principal.tenant, counts, ledger_position, positions, services.feed.waiting
    )
    return Response(services.metrics.page(gauges), media_type=CONTENT_TYPE_LATEST)
