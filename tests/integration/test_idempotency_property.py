"""Command ids as a property: whatever is retried, reused or refused, each id means
one command, its first outcome, and its events recorded once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.bootstrap import build_ledger
from jobledger.domain.errors import IdempotencyConflict, JobLedgerError
from jobledger.domain.ledger import Ledger, Outcome
from jobledger.domain.values import Actor, CommandMeta
from tests.conftest import STORES, fresh_store

ACTOR = Actor("svc", "acme")
COMMANDS = ("submit graph_analysis", "submit anomaly_detection", "claim", "cancel")

steps = st.lists(
    st.tuples(
        st.sampled_from(["id-1", "id-2", "id-3", "id-4", "id-5"]),
        st.sampled_from(COMMANDS),
        st.integers(min_value=0, max_value=2),  # which job, for claim and cancel
    ),
    min_size=1,
    max_size=30,
)


def run(ledger: Ledger, jobs: list[UUID], command: str, target: int, meta: CommandMeta) -> Outcome:
    if command.startswith("submit"):
        return ledger.submit(ACTOR, command.split()[1], meta=meta)
    job_id = jobs[target % len(jobs)]
    if command == "claim":
        return ledger.claim(ACTOR, job_id, agent="w", meta=meta)
    return ledger.cancel(ACTOR, job_id, reason="r", meta=meta)


# Each example opens a fresh store; PostgreSQL's cost per store is about five times
# SQLite's, and the rule under test (receipts in the same save) is the same on both.
EXAMPLES = {"sqlite": 100, "postgres": 30}


@pytest.mark.parametrize("kind", STORES)
def test_each_command_id_is_one_command_recorded_once(kind: str) -> None:
    settings(
        max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )(given(steps)(lambda sequence: recorded_once(kind, sequence)))()


def recorded_once(kind: str, sequence: list[tuple[str, str, int]]) -> None:
    with fresh_store(kind) as store:
        ledger = build_ledger(store)
        jobs: list[UUID] = []
        first: dict[str, tuple[tuple[str, Any], Outcome]] = {}
        for command_id, command, target in sequence:
            if not command.startswith("submit") and not jobs:
                continue
            what = (command, None if command.startswith("submit") else jobs[target % len(jobs)])
            before = ledger.recorder.max_notification_id()
            meta = CommandMeta(command_id=command_id)
            if command_id in first and first[command_id][0] != what:
                try:
                    run(ledger, jobs, command, target, meta)
                except IdempotencyConflict:
                    pass
                else:
                    raise AssertionError(f"{command_id} reused for {what} was accepted")
                assert ledger.recorder.max_notification_id() == before
                continue
            try:
                outcome = run(ledger, jobs, command, target, meta)
            except IdempotencyConflict:
                raise
            except JobLedgerError:
                assert ledger.recorder.max_notification_id() == before  # refused: nothing
                continue
            if command_id in first:
                earlier = first[command_id][1]
                assert outcome.replayed
                assert (outcome.job_id, outcome.version, outcome.lease_id) == (
                    earlier.job_id,
                    earlier.version,
                    earlier.lease_id,
                )
                assert ledger.recorder.max_notification_id() == before
            else:
                assert not outcome.replayed
                first[command_id] = (what, outcome)
                if command.startswith("submit"):
                    jobs.append(outcome.job_id)
        ledger.close()
