"""Rules every surface shares live once; the copies a surface keeps are the same object."""

from __future__ import annotations

from typing import get_args

import pytest

from jobledger.adapters.client import core as client_core
from jobledger.adapters.http.routes import jobs as job_routes
from jobledger.adapters.http.schemas.jobs import Findings
from jobledger.domain import bounds, job
from jobledger.domain.commands import Claim, RecordUsage, ReportProgress
from jobledger.domain.errors import InvalidCommand, InvalidResult
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import TERMINAL, JobStatus, lifecycle
from jobledger.domain.pricing import PriceBook
from jobledger.domain.values import Actor, InputRef, parse_spec
from jobledger.projections import catalog
from jobledger.projections.base import BatchProjection

BOOK = PriceBook.from_toml(
    'version="t"\neffective_from=2026-01-01\n[models.m]\ninput_per_million="1"\n'
    'output_per_million="2"\ncached_input_per_million="0.5"\n'
)


def test_terminal_statuses_are_the_states_the_lifecycle_never_leaves() -> None:
    final = {state for state in JobStatus if not lifecycle().allowed_triggers(state)}
    assert TERMINAL == final == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def test_the_http_api_and_the_client_wait_on_the_domains_terminal_statuses() -> None:
    assert job_routes.TERMINAL is TERMINAL
    assert client_core.TERMINAL is TERMINAL
    assert "completed" in TERMINAL  # read-model rows hold plain text


def test_finding_kinds_are_one_list() -> None:
    assert get_args(bounds.FindingKind) == bounds.FINDING_KINDS
    findings = ReportProgress.model_fields["findings"].annotation
    assert get_args(findings)[0] is bounds.FindingKind
    assert job.FINDING_KINDS is bounds.FINDING_KINDS  # what the read models count
    assert tuple(Findings.model_fields) == bounds.FINDING_KINDS  # what the envelope shows


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_name_must_hold_more_than_whitespace_wherever_it_is_given(blank: str) -> None:
    with pytest.raises(InvalidCommand, match="agent"):
        Claim.parse(agent=blank)
    with pytest.raises(InvalidCommand, match="model"):
        RecordUsage.parse(lease_id="l", model=blank)
    with pytest.raises(InvalidCommand, match=r"inputs\.0\.name"):
        parse_spec(job_type="entity_extraction", inputs=[{"name": blank, **_input()}])


def _input() -> dict[str, object]:
    return {"media_type": "text/plain", "size_bytes": 1}


def test_an_input_name_and_a_claims_agent_share_one_bound() -> None:
    longest = "n" * 256
    assert InputRef(name=longest, media_type="text/plain", size_bytes=1).name == longest
    assert Claim.parse(agent=longest).agent == longest
    with pytest.raises(InvalidCommand, match="agent"):
        Claim.parse(agent=longest + "n")


def test_a_pool_given_at_submit_and_at_claim_has_one_bound() -> None:
    too_long = "p" * 129
    with pytest.raises(InvalidCommand, match="pool"):
        parse_spec(job_type="entity_extraction", pool=too_long)
    with pytest.raises(InvalidCommand, match="pool"):
        Claim.parse(agent="a", pool=too_long)


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "1"])
def test_a_version_outside_the_range_is_refused_naming_the_field(version: object) -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, price_book=BOOK)
    actor = Actor("analyst@acme", "acme")
    job_id = ledger.submit(actor, "entity_extraction").job_id
    with pytest.raises(InvalidCommand, match=r"^version: must be a whole number from 1"):
        ledger.get(job_id, version=version)  # type: ignore[arg-type]


def test_the_catalog_lists_every_read_model_of_the_projections_package() -> None:
    shipped = {
        cls
        for cls in BatchProjection.__subclasses__()
        if cls.__module__.startswith("jobledger.projections.")
    }
    assert set(catalog.PROJECTIONS) == shipped
    names = tuple(projection.name for projection in catalog.PROJECTIONS)
    assert names == catalog.PROJECTION_NAMES
    assert names == (
        "job_summaries",
        "status_history",
        "statistics",
        "cost_ledger",
        "tasks",
        "steps",
    )


@pytest.mark.parametrize("kind", bounds.FINDING_KINDS)
def test_a_results_finding_count_has_the_bound_of_a_preliminary_one(kind: str) -> None:
    """A count past it could not be held by the read models' integer columns."""
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, price_book=BOOK)
    analyst, worker = Actor("analyst@acme", "acme"), Actor("gpu-7@acme", "acme")
    job_id = ledger.submit(analyst, "entity_extraction").job_id
    lease = ledger.claim(worker, job_id, agent="gpu-7").lease_id
    assert lease is not None
    ledger.start(worker, job_id, lease_id=lease)
    with pytest.raises(InvalidResult, match=rf"^result\.{kind}: "):
        ledger.complete(worker, job_id, lease_id=lease, result={kind: bounds.MAX_COUNT + 1})
    assert ledger.get(job_id).status is JobStatus.RUNNING
    ledger.complete(worker, job_id, lease_id=lease, result={kind: bounds.MAX_COUNT})
    assert ledger.get(job_id).status is JobStatus.COMPLETED
