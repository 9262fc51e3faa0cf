"""``jobledger tasks JOB`` on a real SQLite file, run in-process through the entry point."""

from __future__ import annotations

import json

import pytest

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.cli.main import run
from jobledger.adapters.settings import Settings
from tests.conftest import MovableClock
from tests.integration.history_of_every_event import write_task_events


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        run(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tasks_shows_each_worker_and_where_the_verdict_came_from(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = MovableClock()
    ledger = build_ledger(Settings(db=db_url), clock=clock)
    decided, undecided, _ = write_task_events(ledger, clock.advance)
    ledger.close()
    code, shown, _ = cli(capsys, "tasks", str(decided), "--db", db_url)
    assert code == 0
    for expected in ("yara", "successful", "80", "an-1", "crashed: oom", "timeout", "verdict: 80"):
        assert expected in shown
    assert "its own result" in shown
    code, shown, _ = cli(capsys, "tasks", str(undecided), "--db", db_url)
    assert "no verdict: no task counted a score" in shown
    code, shown, _ = cli(capsys, "tasks", str(decided), "--json", "--db", db_url)
    assert json.loads(shown)["verdict"]["score"] == 80
    code, _, error = cli(capsys, "tasks", "not-a-job", "--db", db_url)
    assert code != 0
    assert "is not a job id" in error
    assert "Traceback" not in error
