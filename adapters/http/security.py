"""The bearer token on each request, checked before any route runs; the role rules
themselves live in ``adapters/auth/policy.py`` (shared with GraphQL).

A job the caller may not see is answered exactly as one that does not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from jobledger.adapters.auth.policy import (
    CANCELLERS,
    JOB_READERS,
    READERS,
    caller_key,
    may_cancel,
    may_see,
    only_own,
    require,
)
from jobledger.adapters.auth.tokens import MissingToken, Principal, Role
from jobledger.adapters.http.correlation import CorrelationHeader, TraceparentHeader, named

__all__ = [  # the policy, re-exported for the routes that read it from here
    "CANCELLERS",
    "JOB_READERS",
    "READERS",
    "caller_key",
    "may_cancel",
    "may_see",
    "only_own",
]

SCHEME = {"bearerFormat": "JWT", "description": "An RS256 JWT", "scheme_name": "HTTPBearer"}
bearer = HTTPBearer(auto_error=False, **SCHEME)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def authenticated(request: Request, credentials: Credentials) -> Principal:
    """The caller, whatever their roles."""
    return _verified(request, None if credentials is None else credentials.credentials)


def _verified(request: Request, token: str | None) -> Principal:
    if token is None:
        raise MissingToken("send Authorization: Bearer <token> (an RS256 JWT)")
    verifier = request.app.state.services.verifier
    principal: Principal = verifier.verify(token)
    return principal


class Allowed(HTTPBearer):
    """A dependency: the caller, if one of their roles may do this (``roles`` also
    feeds the generated API reference).

    It is the bearer scheme itself (the same one in OpenAPI) and reads the header
    itself, rather than through ``bearer`` or ``authenticated``: every level of
    dependencies costs each request FastAPI's resolving of it."""

    def __init__(self, *roles: Role, to: str) -> None:
        super().__init__(auto_error=False, **SCHEME)
        self.roles = roles
        self.to = to

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        token = bearer_token(request.headers.get("Authorization"))
        return require(_verified(request, token), self.roles, self.to)


@dataclass(frozen=True)
class Caller:
    """Who calls (allowed here), and the workflow they named for the write, if any."""

    principal: Principal
    correlation_id: str | None  # X-Correlation-ID, else traceparent's trace id


class AllowedCaller(Allowed):
    """``Allowed``, with the correlation id the caller named (``correlation.named``): one
    level of dependencies for both, where the worker routes and submit had two (and one
    more for the services, which they read from the request): FastAPI solves each level
    on every request. The token is checked first, then the headers, as before."""

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        x_correlation_id: CorrelationHeader = None,
        traceparent: TraceparentHeader = None,
    ) -> Caller:
        principal = await super().__call__(request)
        return Caller(principal, named(x_correlation_id, traceparent))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, read as ``HTTPBearer`` reads it."""
    scheme, token = get_authorization_scheme_param(authorization)
    return token if scheme.lower() == "bearer" and token else None


def allowed(*roles: Role, to: str) -> Allowed:
    return Allowed(*roles, to=to)
