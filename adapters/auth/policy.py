"""Who may do what: the one role policy every surface (REST, GraphQL, the pages) reads.

| role    | may |
|---------|-----|
| analyst | submit; read, wait on, stream and cancel the jobs they created |
| viewer  | read every job, statistic and cost of their tenant |
| admin   | what a viewer may, submit, and cancel any job of their tenant |
| auditor | what a viewer may, and read raw events and replays |
| worker  | claim jobs of their tenant and report on them under the claim's lease |
| analyzer | claim and update the tasks named for them (the token's subject is the worker) |

A job the caller may not see is answered exactly as one that does not exist.
"""

from __future__ import annotations

import hashlib

from jobledger.adapters.auth.tokens import Forbidden, Principal, Role

READERS = (Role.VIEWER, Role.ADMIN, Role.AUDITOR)
JOB_READERS = (Role.ANALYST, *READERS)
CANCELLERS = (Role.ANALYST, Role.ADMIN)
SUBMITTERS = (Role.ANALYST, Role.ADMIN)  # an admin submits on the tenant's behalf too
AUDITORS = (Role.AUDITOR,)


def require(principal: Principal, roles: tuple[Role, ...], to: str) -> Principal:
    """The caller, if one of their roles may do this; else ``Forbidden`` saying who may."""
    if not principal.has_any(*roles):
        names = ", ".join(r.value for r in roles)
        held = ", ".join(sorted(principal.roles)) or "none"
        raise Forbidden(f"only {names} may {to}; the token's roles: {held}")
    return principal


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
