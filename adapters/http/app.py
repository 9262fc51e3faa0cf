"""The FastAPI app, built by a factory: nothing is opened at import time.

``create_app`` takes what the composition root built (``Services``). While the app
runs, the projection runner follows the ledger in a thread of its own and tells
the change feed about every batch, which wakes long polls and streams.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobledger.adapters.graphql import router as graphql
from jobledger.adapters.http import api_docs, assets, pages, problems
from jobledger.adapters.http.fast_path import JobReadFastPath
from jobledger.adapters.http.metrics import RequestMetrics
from jobledger.adapters.http.problems import BodyTooLarge
from jobledger.adapters.http.routes import audit as routes_audit
from jobledger.adapters.http.routes import batches as routes_batches
from jobledger.adapters.http.routes import commands as routes_commands
from jobledger.adapters.http.routes import job_costs as routes_job_costs
from jobledger.adapters.http.routes import jobs as routes_jobs
from jobledger.adapters.http.routes import ops as routes_ops
from jobledger.adapters.http.routes import proofs as routes_proofs
from jobledger.adapters.http.routes import reports as routes_reports
from jobledger.adapters.http.routes import steps as routes_steps
from jobledger.adapters.http.routes import streams as routes_streams
from jobledger.adapters.http.routes import tasks as routes_tasks
from jobledger.adapters.http.routes import workers as routes_workers
from jobledger.adapters.http.services import Services

log = logging.getLogger("jobledger.http")
ROUTERS = (
    routes_batches.router,  # before /v1/jobs/{job_id}: its paths are literal
    routes_commands.router,  # so is this one's
    *(m.router for m in (routes_jobs, routes_job_costs, routes_audit)),
    *(m.router for m in (routes_streams, routes_reports)),
    routes_workers.claims,
    routes_workers.router,
    routes_tasks.claims,
    routes_tasks.router,
    routes_tasks.stats,
    routes_steps.router,
    routes_ops.router,
    routes_proofs.router,
    routes_proofs.job_router,
)

DESCRIPTION = """\
Submit analysis jobs, follow them (long poll or Server-Sent Events), and read what
they found and cost. Every route but `/healthz` needs `Authorization: Bearer <JWT>`
(RS256). Errors are `application/problem+json`.
"""


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="jobledger",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=_lifespan(services),
        docs_url=None,  # served from the package by api_docs, not from a CDN
        redoc_url=None,
    )
    app.state.services = services
    problems.install(app)
    for router in ROUTERS:
        # Its routes straight into the app's list, rather than ``include_router``: FastAPI
        # matches an included router's routes through layers of its own on every request
        # (profiled: about a fifth of a worker command's time in the framework). The
        # routers have nothing an inclusion would add (prefix, tags and responses are on
        # each route already): the OpenAPI document is the same.
        app.router.routes.extend(router.routes)
    graphql.mount(app, services.settings)
    app.include_router(api_docs.router)
    app.include_router(pages.router)
    assets.mount(app)
    get_job = next(
        r for r in routes_jobs.router.routes if getattr(r, "endpoint", None) is routes_jobs.get_job
    )
    app.add_middleware(JobReadFastPath, services=services, route=get_job)  # inside the two below
    app.add_middleware(BodyLimit, limit=services.settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    return app


def _lifespan(services: Services):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.reads.open()
        services.feed.bind(asyncio.get_running_loop())
        if services.changes is not None:
            services.changes.start(services.feed)
        stop_sweeping = threading.Event()
        sweeping = services.sweeper.start(stop_sweeping) if services.sweeper else None
        try:
            yield
        finally:
            stop_sweeping.set()
            if sweeping is not None:
                sweeping.join(timeout=10)
            if services.changes is not None:
                services.changes.stop()
            services.feed.unbind()
            services.readiness.close()
            await services.reads.close()

    return lifespan


class BodyLimit:
    """Refuse a body over the limit (413), whether it says its length or streams it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            error = BodyTooLarge(self.limit)
            response = problems.problem(413, "body_too_large", str(error.detail), scope["path"])
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
