"""The bearer token on each request, checked before any route runs; the role rules
themselves live in ``adapters/auth/policy.py`` (shared with GraphQL).

A job the caller may not see is answered exactly as one that does not exist (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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

__all__ = [  # the policy, re-exported for the routes that read it from here
    "CANCELLERS",
    "JOB_READERS",
    "READERS",
    "caller_key",
    "may_cancel",
    "may_see",
    "only_own",
]

bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An RS256 JWT")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def authenticated(request: Request, credentials: Credentials) -> Principal:
    """The caller, whatever their roles."""
    return _verified(request, credentials)


def _verified(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise MissingToken("send Authorization: Bearer <token> (an RS256 JWT)")
    verifier = request.app.state.services.verifier
    principal: Principal = verifier.verify(credentials.credentials)
    return principal


class Allowed:
    """A dependency: the caller, if one of their roles may do this (``roles`` also
    feeds the generated API reference). It verifies the token itself rather than
    through ``authenticated``: a level of dependencies less on every request."""

    def __init__(self, *roles: Role, to: str) -> None:
        self.roles = roles
        self.to = to

    async def __call__(self, request: Request, credentials: Credentials) -> Principal:
        return require(_verified(request, credentials), self.roles, self.to)


def allowed(*roles: Role, to: str) -> Allowed:
    return Allowed(*roles, to=to)
