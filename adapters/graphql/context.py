"""Who is asking, checked before any resolver runs, and what a request's resolvers share.

Over HTTP the bearer token is verified as REST verifies it (same verifier, same errors):
no token or a bad one is a 401 problem before GraphQL sees the query. Only the browser's
request for GraphiQL itself (a GET without a query) passes without one: it runs nothing.
A WebSocket (browsers cannot set its headers) sends the token in ``connection_init``'s
payload, ``{"authorization": "Bearer <token>"}``, or in the upgrade request's header.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import BaseContext

from jobledger.adapters.auth.tokens import MissingToken, Principal
from jobledger.adapters.graphql.loaders import Loaders
from jobledger.adapters.http.security import bearer_token
from jobledger.adapters.http.services import Services
from jobledger.domain.errors import JobLedgerError

SEND_TOKEN = "send Authorization: Bearer <token> (an RS256 JWT)"


class Context(BaseContext):
    def __init__(self, services: Services, principal: Principal | None) -> None:
        super().__init__()
        self.services = services
        self.caller = principal

    @property
    def principal(self) -> Principal:
        if self.caller is None:
            raise MissingToken(SEND_TOKEN)
        return self.caller

    @functools.cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.services, self.principal)


async def context_of(connection: HTTPConnection) -> Context:
    """The FastAPI dependency that makes each request's context (it raises the 401)."""
    services: Services = connection.app.state.services
    header = connection.headers.get("authorization")
    if connection.scope["type"] == "websocket":
        return Context(services, None if header is None else verified(services, header))
    if header is None and _asks_for_the_ide(connection):
        return Context(services, None)
    return Context(services, verified(services, header))


def _asks_for_the_ide(connection: HTTPConnection) -> bool:
    """The request Strawberry answers with GraphiQL, running no query."""
    accept = connection.headers.get("accept", "")
    return (
        connection.scope.get("method") == "GET"
        and "query" not in connection.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


def verified(services: Services, header: str | None) -> Principal:
    token = bearer_token(header)  # read as every REST route reads it
    if token is None:
        raise MissingToken(SEND_TOKEN)
    principal: Principal = services.verifier.verify(token)
    return principal


def connect(context: Context, params: Mapping[str, object] | None) -> None:
    """A WebSocket's ``connection_init``: the caller from its payload, unless the upgrade
    request carried a token; refused (close 4403) without a good one."""
    if context.caller is not None:
        return
    given = (params or {}).get("authorization") or (params or {}).get("Authorization")
    try:
        context.caller = verified(context.services, given if isinstance(given, str) else None)
    except JobLedgerError:
        raise ConnectionRejectionError from None
