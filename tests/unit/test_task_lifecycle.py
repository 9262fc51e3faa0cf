"""The task table is the one source: the machine and the errors agree with it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from jobledger.domain.task_lifecycle import (
    FINAL,
    TASK_TRANSITIONS,
    IllegalTaskTransition,
    TaskState,
    TaskTrigger,
    task_lifecycle,
)


def table_moves() -> dict[tuple[TaskState, TaskTrigger], set[TaskState]]:
    moves: dict[tuple[TaskState, TaskTrigger], set[TaskState]] = {}
    for row in TASK_TRANSITIONS:
        for source in row.sources:
            moves.setdefault((source, row.trigger), set()).add(row.dest or source)
    return moves


def test_the_machine_allows_exactly_what_the_task_table_allows() -> None:
    moves = table_moves()
    for state in TaskState:
        for trigger in TaskTrigger:
            assert task_lifecycle().may(state, trigger) == ((state, trigger) in moves)
            assert task_lifecycle().destinations(state, trigger) == moves.get(
                (state, trigger), set()
            )


def test_the_final_states_are_the_four_the_reference_names() -> None:
    assert {s.value for s in FINAL} == {"successful", "timeout", "failed", "cancelled"}
    for state in FINAL:
        assert task_lifecycle().allowed_triggers(state) == ()


def test_a_final_task_moved_again_names_the_task_its_state_and_that_it_is_final() -> None:
    with pytest.raises(IllegalTaskTransition) as caught:
        task_lifecycle().check(uuid4(), "t-1", TaskState.SUCCESSFUL, TaskTrigger.FAIL)
    assert "task t-1 of job" in str(caught.value)
    assert "is successful: fail is not allowed" in str(caught.value)
    assert "none (the task is final)" in str(caught.value)
