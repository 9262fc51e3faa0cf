"""The verdict rule, against a small reference written here from the issue's words."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.domain.task_lifecycle import FINAL, TaskState
from jobledger.domain.verdict import EarlierResult, TaskOutcome, decide

SCORES = st.integers(min_value=-1, max_value=100)


def reference(
    tasks: list[TaskOutcome], earlier: dict[str, EarlierResult]
) -> tuple[int | None, list[tuple[str, int]]]:
    """Success counts its own score; failed or timed out counts the worker's earlier
    result if any; cancelled never counts; highest non -1, -1 if all are, None if none."""
    counted = []
    for task in tasks:
        if task.state == TaskState.SUCCESSFUL:
            counted.append((task.worker, task.score))
        elif task.state in (TaskState.FAILED, TaskState.TIMEOUT) and task.worker in earlier:
            counted.append((task.worker, earlier[task.worker].score))
    scores = [s for _, s in counted]
    if not scores:
        return None, []
    certain = [s for s in scores if s != -1]
    return (max(certain) if certain else -1), counted  # type: ignore[return-value]


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[TaskOutcome], dict[str, EarlierResult]]:
    workers = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True))
    tasks = []
    for worker in workers:
        state = draw(st.sampled_from(sorted(FINAL)))
        score = draw(SCORES) if state == TaskState.SUCCESSFUL else None
        tasks.append(TaskOutcome(f"t-{worker}", worker, state, score))
    earlier = {
        worker: EarlierResult(f"job-{worker}", f"old-{worker}", draw(SCORES))
        for worker in draw(st.lists(st.sampled_from("abcdefg"), unique=True))
    }
    return tasks, earlier


@settings(max_examples=200, deadline=None)
@given(cases())
def test_the_verdict_follows_the_reference(
    case: tuple[list[TaskOutcome], dict[str, EarlierResult]],
) -> None:
    tasks, earlier = case
    expected, counted = reference(tasks, earlier)
    verdict = decide("job-1", tasks, earlier)
    if expected is None:
        assert verdict is None
        return
    assert verdict is not None
    assert verdict.score == expected
    assert [(c.worker, c.score) for c in verdict.counted] == counted


def test_an_earlier_result_says_which_job_and_task_it_came_from() -> None:
    tasks = [TaskOutcome("t-1", "w", TaskState.TIMEOUT)]
    verdict = decide("job-2", tasks, {"w": EarlierResult("job-1", "t-0", 40)})
    assert verdict is not None
    (counted,) = verdict.counted
    assert (counted.source, counted.source_job_id, counted.source_task_id) == (
        "earlier",
        "job-1",
        "t-0",
    )


def test_a_cancelled_task_never_counts_even_with_an_earlier_result() -> None:
    tasks = [TaskOutcome("t-1", "w", TaskState.CANCELLED)]
    assert decide("job-2", tasks, {"w": EarlierResult("job-1", "t-0", 40)}) is None


def test_uncertain_only_when_every_counted_score_is_uncertain() -> None:
    both = [
        TaskOutcome("t-1", "a", TaskState.SUCCESSFUL, -1),
        TaskOutcome("t-2", "b", TaskState.SUCCESSFUL, 3),
    ]
    assert decide("j", both, {}) is not None
    assert decide("j", both, {}).score == 3
    verdict = decide("j", both[:1], {})
    assert verdict is not None
    assert verdict.uncertain
