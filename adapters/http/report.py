"""The analysis report and the step list, built from a job's summary row, its result
and its step rows (the ``steps`` read model, or the same rows folded from its events).

The report's status maps the lifecycle onto the reference's four values (``REPORT_STATUS``);
its audit log is the steps in the order recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic.alias_generators import to_camel

from jobledger.adapters.http.envelope import processing_time_ms, shaped
from jobledger.adapters.http.schemas.jobs import Money, Tokens
from jobledger.adapters.http.schemas.steps import (
    AnalysisReport,
    AuditEntry,
    RecordedStep,
    ReportFinding,
    RiskAssessment,
    SystemMetadata,
    WorkflowEntry,
)
from jobledger.domain.lifecycle import JobStatus
from jobledger.projections.base import Row

REPORT_STATUS: dict[JobStatus, str] = {
    JobStatus.QUEUED: "pending",
    JobStatus.CLAIMED: "processing",
    JobStatus.RUNNING: "processing",
    JobStatus.VALIDATING: "processing",
    JobStatus.UPLOADING: "processing",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}
# A finding's severity as the report's result; one without a severity passed.
SEVERITY_RESULT = {"low": "warning", "medium": "warning", "high": "failed", "critical": "failed"}


def risk_level(score: int) -> str:
    """Thirds of 0-100: up to 33 is low, up to 66 medium, above that high."""
    return "low" if score <= 33 else "medium" if score <= 66 else "high"


def audit_entry(row: Row) -> dict[str, Any]:
    return shaped(AuditEntry, _audit_fields(row))


def recorded_step(row: Row, currency: str) -> dict[str, Any]:
    cost = row["cost"]
    return shaped(
        RecordedStep,
        {
            **_audit_fields(row),
            "step": row["step"],
            "attempt": row["attempt"],
            "model": row["model"],
            "tokens": Tokens.of(row).model_dump(by_alias=True),
            "cost": None if cost is None else Money.of(cost, currency).model_dump(by_alias=True),
            "recorded_at": row["recorded_at"],
            "actor": row["actor"],
        },
    )


def report(row: Row, result: dict[str, Any] | None, steps: Sequence[Row]) -> dict[str, Any]:
    """The analysis report of a job (``AnalysisReport``), JSON-ready."""
    status = JobStatus(row["status"])
    finished = status.is_terminal
    error = None
    if status is JobStatus.FAILED:
        error = row["error_message"] or row["error_code"] or "failed"
    elif status is JobStatus.CANCELLED:
        error = "cancelled"
    return shaped(
        AnalysisReport,
        {
            "id": row["job_id"],
            "status": REPORT_STATUS[status],
            "job_status": status.value,
            "processing_time_ms": processing_time_ms(row),
            "error": error,
            "requested_at": row["created_at"],
            "completed_at": row["finished_at"] if finished else None,
            "created_at": row["created_at"],
            "risk_assessment": _risk(result),
            "findings": _findings(result),
            "system_metadata": _system_metadata(steps),
            "agent_audit_log": [audit_entry(step) for step in steps],
        },
    )


def _audit_fields(row: Row) -> dict[str, Any]:
    rag = None if row["rag_response"] is None else _camel(json.loads(row["rag_response"]))
    tools = None if row["tool_calls"] is None else json.loads(row["tool_calls"])
    return {
        "work_id": row["work_id"],
        "action_name": row["action_name"],
        "category": row["category"],
        "query": row["query"],
        "reasoning": row["reasoning"],
        "success": row["success"],
        "iteration": row["iteration"],
        "duration_ms": row["duration_ms"],
        "executed_at": row["executed_at"],
        "verification_status": row["verification_status"],
        "target_item_ids": json.loads(row["target_item_ids"]),
        "rag_response": rag,
        "mcp_tool_calls": None if tools is None else [_camel(call) for call in tools],
    }


def _camel(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded part's own names in camelCase; what the agent gave inside it (params,
    raw content, citations) is left as given."""
    return {to_camel(name): value for name, value in recorded.items()}


def _system_metadata(steps: Sequence[Row]) -> dict[str, Any]:
    return shaped(
        SystemMetadata,
        {
            "total_iterations": max((s["iteration"] for s in steps), default=0),
            "completed_work_ids": sorted({s["work_id"] for s in steps if s["success"]}),
            "workflow_history": [
                shaped(
                    WorkflowEntry,
                    {
                        "work_id": s["work_id"],
                        "action_name": s["action_name"],
                        "query": s["query"],
                        "reason": s["reasoning"],
                        "success": s["success"],
                        "iteration": s["iteration"],
                        "timestamp": s["executed_at"],
                    },
                )
                for s in steps
            ],
        },
    )


def _risk(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """From a result that carries a risk score (threat modelling): its threats are the
    factors."""
    if not result or not isinstance(result.get("risk_score"), int):
        return None
    score = result["risk_score"]
    factors = [t["name"] for t in result.get("threats", []) if isinstance(t, dict) and "name" in t]
    return shaped(
        RiskAssessment,
        {"risk_level": risk_level(score), "risk_score": score, "risk_factors": factors},
    )


def _findings(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = (result or {}).get("findings") or []
    return [
        shaped(
            ReportFinding,
            {
                "id": f"af_{order}",
                "category": finding.get("kind", ""),
                "result": SEVERITY_RESULT.get(finding.get("severity") or "", "passed"),
                "details": finding.get("label", ""),
                "sort_order": order,
            },
        )
        for order, finding in enumerate(found, start=1)
        if isinstance(finding, dict)
    ]
