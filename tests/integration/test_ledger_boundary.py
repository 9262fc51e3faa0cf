"""The Ledger is a boundary: a bad argument is a clear InvalidCommand, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from jobledger.domain.errors import InvalidCommand
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, WORKER, running_job

pytestmark = pytest.mark.rules  # input rules: refused before the store is touched

BAD_WORKER_COMMANDS: list[tuple[str, dict[str, Any], str]] = [
    ("record_usage", {"model": "gpt-4o", "input_tokens": 1.5}, "input_tokens"),
    ("record_usage", {"model": "gpt-4o", "input_tokens": "10"}, "input_tokens"),
    ("record_usage", {"model": "gpt-4o", "output_tokens": 10**400}, "output_tokens"),
    ("record_usage", {"model": "gpt-4o", "cached_input_tokens": -1}, "cached_input_tokens"),
    ("record_usage", {"model": 123}, "model"),
    ("record_usage", {"model": "   "}, "model"),
    ("report_progress", {"percent": 50.5}, "percent"),
    ("report_progress", {"percent": True}, "percent"),
    ("report_progress", {"percent": 50, "message": 5}, "message"),
    ("report_progress", {"percent": 50, "findings": {"entities": 2.5}}, "findings.entities"),
    ("report_progress", {"percent": 50, "findings": {"people": 2}}, "findings.people"),
    ("heartbeat", {"lease_seconds": -1000}, "lease_seconds"),
    ("heartbeat", {"lease_seconds": float("inf")}, "lease_seconds"),
    ("fail", {"code": "x", "message": "m", "retryable": "no"}, "retryable"),
    ("fail", {"code": "x", "message": None}, "message"),
    ("fail", {"code": "has space", "message": "m"}, "code"),
    ("complete", {"result": [1]}, "result"),
    ("release", {"reason": 42}, "reason"),
]


@pytest.mark.parametrize(("command", "arguments", "field"), BAD_WORKER_COMMANDS)
def test_a_bad_worker_argument_names_its_field_and_records_nothing(
    ledger: Ledger, command: str, arguments: dict[str, Any], field: str
) -> None:
    job_id, lease = running_job(ledger)
    version = ledger.get(job_id).version
    with pytest.raises(InvalidCommand, match=field):
        getattr(ledger, command)(WORKER, job_id, lease_id=lease, **arguments)
    assert ledger.get(job_id).version == version


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"agent": ""}, "agent"),
        ({"agent": "w", "lease_seconds": float("nan")}, "lease_seconds"),
        ({"agent": "w", "lease_seconds": 10**12}, "lease_seconds"),
        ({"agent": "w", "lease_seconds": "60"}, "lease_seconds"),
    ],
)
def test_a_bad_claim_is_refused(ledger: Ledger, arguments: dict[str, Any], field: str) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    with pytest.raises(InvalidCommand, match=field):
        ledger.claim(WORKER, job_id, **arguments)
    assert ledger.get(job_id).version == 1


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"config": {"when": object()}}, "config.when"),
        ({"metadata": {"tags": {1, 2}}}, "metadata.tags"),
        ({"priority": "5"}, "priority"),
        ({"inputs": [{"name": "a", "media_type": "text/csv", "size_bytes": 1.0}]}, "size_bytes"),
    ],
)
def test_a_bad_submit_is_refused(ledger: Ledger, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCommand, match=field):
        ledger.submit(ANALYST, "graph_analysis", **arguments)


@pytest.mark.parametrize("meta", [{"command_id": ""}, {"command_id": 7}, {"expected_version": 0}])
def test_bad_command_meta_is_refused(meta: dict[str, Any]) -> None:
    with pytest.raises(InvalidCommand):
        CommandMeta(**meta)


def test_a_claim_retried_with_its_command_id_gets_the_same_lease(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    meta = CommandMeta(command_id="claim-1")
    first = ledger.claim(WORKER, job_id, agent="w", meta=meta)
    again = ledger.claim(WORKER, job_id, agent="w", meta=meta)
    assert again.replayed
    assert again.lease_id == first.lease_id == ledger.get(job_id).lease_id


def test_a_second_cancel_of_running_work_records_nothing(ledger: Ledger) -> None:
    job_id, _ = running_job(ledger)
    first = ledger.cancel(ANALYST, job_id, reason="stop")
    second = ledger.cancel(ANALYST, job_id, reason="stop!")
    assert second.version == first.version
    assert second.position is None
    assert ledger.get(job_id).cancellation_reason == "stop"


def test_a_clock_without_utc_is_a_configuration_error(open_ledger: Any) -> None:
    from datetime import datetime

    from jobledger.domain.errors import ConfigurationError

    naive = open_ledger(clock=lambda: datetime(2026, 1, 1))
    with pytest.raises(ConfigurationError, match="UTC"):
        naive.submit(ANALYST, "graph_analysis")
