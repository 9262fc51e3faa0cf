"""Rules every surface shares live once; the copies a surface keeps are the same object."""

from __future__ import annotations

from jobledger.adapters.http import services
from jobledger.domain.lifecycle import TERMINAL, JobStatus, lifecycle


def test_terminal_statuses_are_the_states_the_lifecycle_never_leaves() -> None:
    final = {state for state in JobStatus if not lifecycle().allowed_triggers(state)}
    assert TERMINAL == final == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def test_the_http_api_waits_on_the_domains_terminal_statuses() -> None:
    assert services.TERMINAL is TERMINAL
    assert "completed" in services.TERMINAL  # read-model rows hold plain text
