"""The transition table is the one source: the machine, errors and docs agree with it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from jobledger.domain.errors import IllegalTransition
from jobledger.domain.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    Trigger,
    lifecycle,
    mermaid_diagram,
)


def table_moves() -> dict[tuple[JobStatus, Trigger], set[JobStatus]]:
    moves: dict[tuple[JobStatus, Trigger], set[JobStatus]] = {}
    for row in TRANSITIONS:
        for source in row.sources:
            moves.setdefault((source, row.trigger), set()).add(row.dest or source)
    return moves


def test_every_trigger_appears_in_the_table() -> None:
    assert {row.trigger for row in TRANSITIONS} == set(Trigger)


def test_the_machine_allows_exactly_what_the_table_allows() -> None:
    moves = table_moves()
    for state in JobStatus:
        for trigger in Trigger:
            assert lifecycle().may(state, trigger) == ((state, trigger) in moves)
            assert lifecycle().destinations(state, trigger) == moves.get((state, trigger), set())


def test_terminal_states_allow_nothing() -> None:
    for state in TERMINAL:
        assert lifecycle().allowed_triggers(state) == ()


def test_every_state_is_reachable_from_submit() -> None:
    reached = {JobStatus.QUEUED}
    frontier = [JobStatus.QUEUED]
    while frontier:
        state = frontier.pop()
        for trigger in lifecycle().allowed_triggers(state):
            for dest in lifecycle().destinations(state, trigger) - reached:
                reached.add(dest)
                frontier.append(dest)
    assert reached == set(JobStatus)


def test_illegal_transition_names_job_state_trigger_and_what_is_allowed() -> None:
    job_id = uuid4()
    with pytest.raises(IllegalTransition) as caught:
        lifecycle().check(job_id, JobStatus.QUEUED, Trigger.COMPLETE)
    error = caught.value
    assert str(job_id) in str(error)
    assert "queued" in str(error)
    assert "complete" in str(error)
    assert error.allowed == ("claim", "cancel")
    assert "claim, cancel" in str(error)


def test_illegal_transition_on_a_finished_job_says_it_is_finished() -> None:
    with pytest.raises(IllegalTransition, match="finished"):
        lifecycle().check(uuid4(), JobStatus.COMPLETED, Trigger.CANCEL)


def test_diagram_draws_every_row_of_the_table() -> None:
    diagram = mermaid_diagram()
    for row in TRANSITIONS:
        for source in row.sources or ("[*]",):
            dest = row.dest or source
            edge = next(line for line in diagram.splitlines() if f"{source} --> {dest} :" in line)
            assert row.trigger.value in edge
