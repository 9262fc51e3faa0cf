"""The GraphQL enums, made from the domain's Python enums (never listed again here)."""

from __future__ import annotations

import strawberry

from jobledger.adapters.auth.tokens import Role as _Role
from jobledger.domain.lifecycle import JobStatus as _JobStatus
from jobledger.domain.results import JobType as _JobType
from jobledger.domain.task_lifecycle import TaskState as _TaskState

JobStatus = strawberry.enum(_JobStatus, description="where a job stands in its lifecycle")
JobType = strawberry.enum(_JobType, description="the kind of analysis; it decides the result")
Role = strawberry.enum(_Role, description="what a token's holder may do (see docs/graphql.md)")
TaskState = strawberry.enum(_TaskState, description="where a task stands (docs/tasks.md)")
