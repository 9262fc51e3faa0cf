"""Rules every surface shares live once; the copies a surface keeps are the same object."""

from __future__ import annotations

from jobledger.adapters.http import services
from jobledger.domain.lifecycle import TERMINAL, JobStatus, lifecycle
from jobledger.projections import catalog
from jobledger.projections.base import BatchProjection


def test_terminal_statuses_are_the_states_the_lifecycle_never_leaves() -> None:
    final = {state for state in JobStatus if not lifecycle().allowed_triggers(state)}
    assert TERMINAL == final == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def test_the_http_api_waits_on_the_domains_terminal_statuses() -> None:
    assert services.TERMINAL is TERMINAL
    assert "completed" in services.TERMINAL  # read-model rows hold plain text


def test_the_catalog_lists_every_read_model_of_the_projections_package() -> None:
    shipped = {
        cls
        for cls in BatchProjection.__subclasses__()
        if cls.__module__.startswith("jobledger.projections.")
    }
    assert set(catalog.PROJECTIONS) == shipped
    names = tuple(projection.name for projection in catalog.PROJECTIONS)
    assert names == catalog.PROJECTION_NAMES
    assert names == ("job_summaries", "status_history", "statistics", "cost_ledger")
