"""Role checks on fields, from the policy REST uses (``adapters/auth/policy.py``): a
refusal is a ``Forbidden`` error, code ``forbidden``, as REST's 403."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from jobledger.adapters.auth.policy import (
    AUDITORS,
    CANCELLERS,
    JOB_READERS,
    READERS,
    SUBMITTERS,
    require,
)
from jobledger.adapters.auth.tokens import Role


class Allowed(BasePermission):
    roles: tuple[Role, ...] = ()
    to = ""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        require(info.context.principal, self.roles, self.to)
        return True


class MayReadJobs(Allowed):
    roles, to = JOB_READERS, "read jobs"


class MayReadTenant(Allowed):
    roles, to = READERS, "read statistics and costs"


class MaySubmit(Allowed):
    roles, to = SUBMITTERS, "submit jobs"


class MayCancel(Allowed):
    roles, to = CANCELLERS, "cancel jobs"


class MayAudit(Allowed):
    roles, to = AUDITORS, "read raw events and replays"
