"""What crosses the HTTP boundary for an agent's steps and the analysis report.

The request reuses the domain's ``Step`` as it is (its bounds, its camelCase names); the
answers describe what ``adapters/http/report.py`` builds, in the long-poll reference's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from jobledger.adapters.http.schemas.jobs import ApiModel, Money, Tokens
from jobledger.adapters.http.schemas.workers import LeasedCommand
from jobledger.domain.bounds import MAX_STEPS_PER_BATCH
from jobledger.domain.steps import Step

ReportStatus = Literal["pending", "processing", "completed", "failed"]


class AppendSteps(LeasedCommand):
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS_PER_BATCH)] = Field(
        description="one or a batch, in the order the agent took them; recorded whole or not at all"
    )


class AuditEntry(ApiModel):
    """One step as the report's ``agentAuditLog`` shows it."""

    work_id: int
    action_name: str
    category: str | None
    query: str
    reasoning: str
    success: bool
    iteration: int
    duration_ms: int
    executed_at: datetime
    verification_status: str | None
    target_item_ids: list[str]
    rag_response: dict[str, Any] | None
    mcp_tool_calls: list[dict[str, Any]] | None


class RecordedStep(AuditEntry):
    """A step as the ledger recorded it: its number, attempt, tokens and cost."""

    step: int = Field(description="its number in the job, from 1, in the order recorded")
    attempt: int
    model: str | None
    tokens: Tokens
    cost: Money | None = Field(description="null when the step used no priced model")
    recorded_at: datetime
    actor: str


class JobSteps(ApiModel):
    job_id: UUID
    items: list[RecordedStep]
    position: int = Field(description="the log position the read models had reached")


class RiskAssessment(ApiModel):
    risk_level: Literal["low", "medium", "high"]
    risk_score: int
    risk_factors: list[str]


class ReportFinding(ApiModel):
    id: str
    category: str
    result: Literal["passed", "warning", "failed"]
    details: str
    sort_order: int


class WorkflowEntry(ApiModel):
    work_id: int
    action_name: str
    query: str
    reason: str
    success: bool
    iteration: int
    timestamp: datetime


class SystemMetadata(ApiModel):
    total_iterations: int
    completed_work_ids: list[int]
    workflow_history: list[WorkflowEntry]


class AnalysisReport(ApiModel):
    """The analysis report, in the shape of the long-poll reference."""

    id: UUID
    status: ReportStatus = Field(
        description="pending (queued), processing (claimed, running, validating, uploading), "
        "completed, or failed (failed or cancelled)"
    )
    job_status: str = Field(description="the job's own lifecycle status")
    processing_time_ms: int
    error: str | None
    requested_at: datetime
    completed_at: datetime | None = Field(description="when it finished; null until then")
    created_at: datetime
    risk_assessment: RiskAssessment | None = Field(
        description="when the result carries a risk score"
    )
    findings: list[ReportFinding]
    system_metadata: SystemMetadata
    agent_audit_log: list[AuditEntry]
