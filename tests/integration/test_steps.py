"""An agent's steps through the Ledger on a real SQLite file: order, atomic batches,
bounds that record nothing, and priced tokens that reach the cost ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.bootstrap import build_runner, read_pool
from jobledger.adapters.store.sql.read_store import CostQuery, ask
from jobledger.domain import bounds
from jobledger.domain import events as ev
from jobledger.domain.errors import InvalidCommand, LeaseMismatch, TooLarge
from jobledger.domain.ledger import Ledger
from jobledger.domain.values import CommandMeta
from tests.conftest import WORKER, running_job

pytestmark = pytest.mark.rules


def step(work_id: int, action: str = "classify", **more: Any) -> dict[str, Any]:
    return {
        "workId": work_id,
        "actionName": action,
        "success": True,
        "executedAt": "2026-11-01T09:00:00Z",
        **more,
    }


def recorded(ledger: Ledger, job_id: UUID) -> list[dict[str, Any]]:
    events = [e for e in ledger.job_events(job_id) if isinstance(e, ev.StepsAppended)]
    return [s for e in events for s in e.steps]


def steps_read_model(ledger: Ledger, job_id: UUID) -> list[dict[str, Any]]:
    build_runner(ledger).catch_up()
    return ask(read_pool(ledger, 1), lambda store: store.steps(job_id)).value


def test_steps_keep_the_order_they_were_given_in_across_batches(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(3), step(1), step(2)])
    ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(9)])
    assert [s["work_id"] for s in recorded(ledger, job_id)] == [3, 1, 2, 9]
    rows = steps_read_model(ledger, job_id)
    assert [(r["step"], r["work_id"]) for r in rows] == [(1, 3), (2, 1), (3, 2), (4, 9)]


def test_a_batch_with_one_bad_step_records_none_of_it(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    version = ledger.get(job_id).version
    bad = step(2, executedAt="yesterday")
    with pytest.raises(InvalidCommand, match=r"steps\.1\.executedAt"):
        ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(1), bad])
    assert ledger.get(job_id).version == version
    assert steps_read_model(ledger, job_id) == []


@pytest.mark.parametrize(
    ("steps", "refusal", "names"),
    [
        (
            [
                step(
                    1,
                    toolCalls=[
                        {"toolName": "t", "success": True, "rawContent": {"x": "a" * 65_536}}
                    ],
                )
            ],
            TooLarge,
            r"steps\.0\.toolCalls\.0\.rawContent: 65,544 bytes",
        ),
        ([step(i) for i in range(bounds.MAX_STEPS_PER_BATCH + 1)], InvalidCommand, "steps"),
        ([step(1, reasoning="r" * (bounds.MAX_STEP_TEXT + 1))], InvalidCommand, "reasoning"),
        ([step(1, targetItemIds=["i"] * (bounds.MAX_TARGET_ITEMS + 1))], InvalidCommand, "target"),
        ([step(1, inputTokens=5)], InvalidCommand, "give model"),
        ([step(1, verificationStatus="maybe")], InvalidCommand, "verificationStatus"),
        ([], InvalidCommand, "steps"),
    ],
    ids=["raw content", "batch", "reasoning", "targets", "tokens", "verification", "empty"],
)
def test_a_step_past_its_bounds_is_refused_naming_the_field_and_records_nothing(
    ledger: Ledger, steps: list[dict[str, Any]], refusal: type[Exception], names: str
) -> None:
    job_id, lease = running_job(ledger)
    version = ledger.get(job_id).version
    with pytest.raises(refusal, match=names):
        ledger.append_steps(WORKER, job_id, lease_id=lease, steps=steps)
    assert ledger.get(job_id).version == version


def test_raw_content_of_exactly_the_bound_is_recorded(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    content = {"x": "a" * (bounds.MAX_RAW_CONTENT_BYTES - 8)}  # {"x":"..."} is 8 bytes more
    call = {"toolName": "t", "success": True, "rawContent": content}
    ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(1, toolCalls=[call])])
    assert recorded(ledger, job_id)[0]["tool_calls"][0]["raw_content"] == content


def test_only_the_lease_holder_appends_steps_and_a_retry_records_once(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    with pytest.raises(LeaseMismatch):
        ledger.append_steps(WORKER, job_id, lease_id="stale", steps=[step(1)])
    meta = CommandMeta(command_id="steps-1")
    first = ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(1)], meta=meta)
    again = ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(1)], meta=meta)
    assert again.replayed
    assert again.version == first.version
    assert len(recorded(ledger, job_id)) == 1


def test_priced_steps_reach_the_job_and_the_cost_ledger_by_action_and_tool(
    ledger: Ledger,
) -> None:
    job_id, lease = running_job(ledger)
    search = {"toolName": "search_individual", "engineCode": "aml-search", "success": True}
    ledger.append_steps(
        WORKER,
        job_id,
        lease_id=lease,
        steps=[
            step(1, "classify", model="gpt-4o", inputTokens=1_000_000),  # $2.50
            step(2, "screen", model="gpt-4o", outputTokens=100_000, toolCalls=[search]),  # $1
            step(3, "screen"),  # no tokens: no cost entry
        ],
    )
    ledger.record_usage(WORKER, job_id, lease_id=lease, model="gpt-4o", input_tokens=400_000)
    assert ledger.get(job_id).cost == Decimal("4.50")
    build_runner(ledger).catch_up()

    def by(grouping: str) -> dict[str | None, tuple[int, Decimal]]:
        query = CostQuery(group_by=grouping)  # type: ignore[arg-type]
        totals = ask(read_pool(ledger, 1), lambda store: store.costs(query)).value
        return {t.key: (t.usages, t.cost) for t in totals}

    assert by("action") == {
        "classify": (1, Decimal("2.50")),
        "screen": (1, Decimal("1.00")),
        None: (1, Decimal("1.00")),  # the usage record, outside any step
    }
    assert by("tool") == {"search_individual": (1, Decimal("1.00"))}
    assert by("tenant") == {"acme": (3, Decimal("4.50"))}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=4), max_size=4))
def test_steps_are_numbered_in_the_order_recorded_whatever_the_batches(
    ledger: Ledger, batches: list[list[int]]
) -> None:
    job_id, lease = running_job(ledger)
    for batch in batches:
        ledger.append_steps(WORKER, job_id, lease_id=lease, steps=[step(w) for w in batch])
    expected = [w for batch in batches for w in batch]
    assert [s["work_id"] for s in recorded(ledger, job_id)] == expected
    assert ledger.get(job_id).steps_recorded == len(expected)
