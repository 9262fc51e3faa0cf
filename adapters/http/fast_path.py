"""GET /v1/jobs/{id}, the request dashboards and clients poll most, answered without
FastAPI's routing and dependency solving when nothing about it is unusual.

Profiled under 32 polling clients, most of such a request's CPU went to the framework:
matching the path through the nested routers, solving the route's dependencies one by
one, its exception middlewares. This ASGI middleware answers the plain case itself: a
GET with no query string, a lowercase hyphenated UUID, a bearer token that verifies and
holds a reader's role, a job the caller may see. The answer is the route's own
(``routes.jobs.read_job``), so its bytes and headers are those the route gives.

Anything else is handed to the app untouched, and answered there as before: a query
(``?wait=true``), another spelling of the id, a missing, bad or expired token, a role
that may not read, an unknown job, any error at all. Errors have one source (the routes
and ``problems``); a request that ends in one merely costs a second try (a GET changes
nothing).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from jobledger.adapters.http.routes import jobs
from jobledger.adapters.http.security import JOB_READERS, bearer_token
from jobledger.adapters.http.services import Services

PATH = re.compile(r"/v1/jobs/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


class JobReadFastPath:
    """ASGI middleware: the plain GET of a job, or else the app."""

    def __init__(self, app: ASGIApp, services: Services, route: BaseRoute) -> None:
        self.app = app
        self.services = services
        self.route = route  # the route's own, for the request metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self._answer(scope) if scope["type"] == "http" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        await answer(scope, receive, send)

    async def _answer(self, scope: Scope) -> Response | None:
        """The route's answer to a plain read by a reader; None: the app's to answer."""
        if scope["method"] != "GET" or scope["query_string"] or scope.get("root_path"):
            return None
        found = PATH.fullmatch(scope["path"])
        token = bearer_token(_authorization(scope["headers"]))
        if found is None or token is None:
            return None
        try:
            principal = self.services.verifier.verify(token)
            if not principal.has_any(*JOB_READERS):
                return None
            return await jobs.read_job(self.services, principal, UUID(found[1]))
        except Exception:  # the app answers it, with the error it always gave
            return None


def _authorization(headers: Any) -> str | None:
    """The first ``Authorization`` header, as Starlette's ``Headers.get`` finds it."""
    for name, value in headers:
        if name == b"authorization":
            found: str = value.decode("latin-1")
            return found
    return None
