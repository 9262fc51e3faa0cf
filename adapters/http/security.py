"""The bearer token on each request, and who may do what.

| role    | may |
|---------|-----|
| analyst | submit; read, wait on, stream and cancel the jobs they created |
| viewer  | read every job, statistic and cost of their tenant |
| admin   | what a viewer may, submit, and cancel any job of their tenant |
| auditor | what a viewer may, and read raw events and replays |
| worker  | claim jobs of their tenant and report on them under the claim's lease |

A job the caller may not see is answered exactly as one that does not exist (404).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobledger.adapters.auth.tokens import Forbidden, MissingToken, Principal, Role

READERS = (Role.VIEWER, Role.ADMIN, Role.AUDITOR)
JOB_READERS = (Role.ANALYST, *READERS)
CANCELLERS = (Role.ANALYST, Role.ADMIN)
SUBMITTERS = (Role.ANALYST, Role.ADMIN)  # an admin submits on the tenant's behalf too

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
        principal = _verified(request, credentials)
        if not principal.has_any(*self.roles):
            names = ", ".join(r.value for r in self.roles)
            held = ", ".join(sorted(principal.roles)) or "none"
            raise Forbidden(f"only {names} may {self.to}; the token's roles: {held}")
        return principal


def allowed(*roles: Role, to: str) -> Allowed:
    return Allowed(*roles, to=to)


def may_see(principal: Principal, tenant: str, created_by: str) -> bool:
    if principal.tenant != tenant:
        return False
    return principal.has_any(*READERS) or (
        Role.ANALYST in principal.roles and created_by == principal.subject
    )


def may_cancel(principal: Principal, created_by: str) -> bool:
    """An admin cancels any job of the tenant; an analyst only the jobs they created
    (whatever reading roles they also hold)."""
    return Role.ADMIN in principal.roles or (
        Role.ANALYST in principal.roles and created_by == principal.subject
    )


def caller_key(principal: Principal) -> str:
    """A short fixed name for the caller, to scope the ids it picks (idempotency keys,
    command ids): two callers may pick the same id."""
    return hashlib.sha256(principal.subject.encode()).hexdigest()[:16]


def only_own(principal: Principal) -> bool:
    """An analyst without a reader's role sees only the jobs they created."""
    return not principal.has_any(*READERS)
