"""Every read model the runner keeps, listed once: the composition root builds these,
and the health checks and stores ask for the positions of these names."""

from __future__ import annotations

from jobledger.projections.base import BatchProjection
from jobledger.projections.cost_ledger import CostLedgerProjection
from jobledger.projections.job_summaries import JobSummaryProjection
from jobledger.projections.statistics import StatisticsProjection
from jobledger.projections.status_history import StatusHistoryProjection
from jobledger.projections.steps import StepsProjection
from jobledger.projections.tasks import TaskProjection

PROJECTIONS: tuple[type[BatchProjection], ...] = (
    JobSummaryProjection,
    StatusHistoryProjection,
    StatisticsProjection,
    CostLedgerProjection,
    TaskProjection,
    StepsProjection,
)
PROJECTION_NAMES: tuple[str, ...] = tuple(projection.name for projection in PROJECTIONS)
