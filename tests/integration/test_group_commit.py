"""Group commit: commands that arrive together are stored in one transaction, and each
is still answered with its own outcome.

Another connection holds the store's write lock while one command's save waits for it;
the commands started meanwhile queue behind it and are stored together once the lock
is let go. Among them, claims of the same job and reused command ids conflict: each
such conflict must fail (or replay) only its own command, and every command answered
as done must be in the store afterwards, read by a ledger that never saw it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.postgres import PostgresDatastore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobledger.adapters.audit.auditor import verify_log
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.adapters.store.postgres.database import conninfo_of
from jobledger.adapters.store.sql.group_commit import GroupCommit
from jobledger.domain.errors import ConcurrencyConflict, IdempotencyConflict, IllegalTransition
from jobledger.domain.events import JobClaimed
from jobledger.domain.ledger import Ledger, Outcome
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, WORKER, fresh_store

WAIT_S = 20.0


def group_of(ledger: Ledger) -> GroupCommit:
    group = getattr(ledger.recorder, "group_commit", None)
    assert isinstance(group, GroupCommit), "the ledger's recorder groups its saves"
    return group


@contextlib.contextmanager
def write_lock_held(ledger: Ledger) -> Iterator[None]:
    """Another connection holds the lock every save takes: SQLite's write lock, or the
    PostgreSQL events table's lock."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    if isinstance(datastore, PostgresDatastore):
        table = f'"{datastore.schema}"."{ledger.recorder.events_table_name}"'  # type: ignore[attr-defined]
        with psycopg.connect(conninfo_of(datastore)) as conn, conn.transaction():
            conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            yield
        return
    conn = sqlite3.connect(datastore.pool.db_name, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_S:.0f} s for {what}")
        time.sleep(0.005)


@dataclass
class Answer:
    outcome: Outcome | None = None
    error: Exception | None = None


def together(ledger: Ledger, commands: list[Callable[[], Outcome]]) -> list[Answer]:
    """Run ``commands`` at once, while a first save holds the store: they queue behind
    it and are stored as one group when the lock is let go."""
    group = group_of(ledger)
    answers = [Answer() for _ in commands]

    def run(command: Callable[[], Outcome], answer: Answer) -> None:
        try:
            answer.outcome = command()
        except Exception as error:
            answer.error = error

    with write_lock_held(ledger):
        first = threading.Thread(target=lambda: ledger.submit(ANALYST, "graph_analysis"))
        first.start()
        eventually(lambda: group.busy, "the first save to wait for the lock")
        threads = [
            threading.Thread(target=run, args=pair) for pair in zip(commands, answers, strict=True)
        ]
        for thread in threads:
            thread.start()
        eventually(lambda: group.queued == len(commands), "every command to queue")
    first.join(WAIT_S)
    for thread in threads:
        thread.join(WAIT_S)
    return answers


def test_commands_that_arrive_together_are_stored_in_one_transaction(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    jobs = [ledger.submit(ANALYST, "graph_analysis").job_id for _ in range(6)]
    group = group_of(ledger)
    before = group.transactions
    claims = [
        (lambda job_id=job_id: ledger.claim(WORKER, job_id, agent="w"))  # type: ignore[misc]
        for job_id in jobs
    ]
    answers = together(ledger, claims)
    assert [a.error for a in answers] == [None] * len(jobs)
    assert group.transactions - before == 2  # the first save alone, then the six together
    fresh = open_ledger()
    for job_id, answer in zip(jobs, answers, strict=True):
        assert answer.outcome is not None
        job = fresh.get(job_id)
        assert (job.status, job.lease_id) == (JobStatus.CLAIMED, answer.outcome.lease_id)
    assert_log_verifies(fresh)


def assert_log_verifies(ledger: Ledger) -> None:
    """A group's events got their leaf records and chain links in its one transaction."""
    log = backend_of(ledger).audit_log(ledger)
    assert verify_log(log, Ed25519PrivateKey.generate().public_key()).breaks == []


@dataclass(frozen=True)
class Claim:
    job: int  # which of the queued jobs
    command_id: str | None
    conditional: bool = False  # states the version it expects: a lost race is not retried


claims = st.lists(
    st.builds(Claim, st.integers(0, 3), st.sampled_from([None, None, "a", "b"]), st.booleans()),
    min_size=2,
    max_size=7,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims)
def test_a_conflict_in_a_group_fails_only_its_own_command(plan: list[Claim]) -> None:
    with fresh_store("sqlite") as store:
        check_group(store, plan)


def test_a_conflict_in_a_group_fails_only_its_own_command_on_postgres() -> None:
    plan = [Claim(0, None), Claim(0, None, True), Claim(1, "a"), Claim(2, "a"), Claim(3, "b")]
    plan += [Claim(3, "b"), Claim(1, None), Claim(2, None, True)]
    with fresh_store("postgres") as store:
        check_group(store, plan)


def check_group(store: Settings, plan: list[Claim]) -> None:
    ledger = build_ledger(store)
    try:
        jobs = [ledger.submit(ANALYST, "graph_analysis").job_id for _ in range(4)]

        def claim(step: Claim) -> Callable[[], Outcome]:
            meta = CommandMeta(
                command_id=step.command_id, expected_version=1 if step.conditional else None
            )
            return lambda: ledger.claim(WORKER, jobs[step.job], agent="w", meta=meta)

        answers = together(ledger, [claim(step) for step in plan])
    finally:
        ledger.close()
    fresh = build_ledger(store, create=False)
    try:
        check_answers(fresh, jobs, plan, answers)
        assert_log_verifies(fresh)
    finally:
        fresh.close()


def check_answers(
    ledger: Ledger, jobs: list[UUID], plan: list[Claim], answers: list[Answer]
) -> None:
    won: dict[UUID, Outcome] = {}
    first_of: dict[str, Outcome] = {}
    for step, answer in zip(plan, answers, strict=True):
        outcome = answer.outcome
        if outcome is None or outcome.replayed:
            continue
        assert outcome.job_id == jobs[step.job]
        assert outcome.job_id not in won, "one job claimed twice"
        won[outcome.job_id] = outcome
        if step.command_id is not None:
            assert step.command_id not in first_of, "one command id acknowledged twice"
            first_of[step.command_id] = outcome
    for step, answer in zip(plan, answers, strict=True):
        error, outcome = answer.error, answer.outcome
        # Refused only for its own reason, never for another command of its group.
        if isinstance(error, IdempotencyConflict):
            assert step.command_id in first_of
        elif isinstance(error, IllegalTransition | ConcurrencyConflict):
            assert jobs[step.job] in won, f"{error} though nobody claimed the job"
        elif error is not None:
            raise AssertionError(f"refused with {error!r}")
        elif outcome is not None and outcome.replayed:
            assert step.command_id is not None
            first = first_of[step.command_id]
            assert (outcome.job_id, outcome.lease_id) == (first.job_id, first.lease_id)
    for job_id in jobs:  # every acknowledged claim is stored, and only those
        claimed = [e for e in ledger.job_events(job_id) if isinstance(e, JobClaimed)]
        expected = [won[job_id].lease_id] if job_id in won else []
        assert [e.lease_id for e in claimed] == expected


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    eventually(lambda: threading.active_count() <= before, "the commands' threads to end")
