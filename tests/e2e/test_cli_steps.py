"""``jobledger steps`` and ``costs --by action``, as a user runs them on a job's steps."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.cli import main as cli
from jobledger.adapters.cli import reports
from jobledger.adapters.cli.main import app
from jobledger.adapters.settings import Settings
from jobledger.domain.values import Actor

CLI = CliRunner()


def jobledger(*args: str, db: str) -> Result:
    """In this process (a subprocess costs seconds of imports): wide, as on a terminal.
    The CLI's console is made when its module is first imported, which reads COLUMNS
    then (another test may have imported it first), so its width is set here."""
    consoles = (cli.out, reports.out)
    before = [console._width for console in consoles]
    for console in consoles:
        console.width = 160
    try:
        return CLI.invoke(app, list(args), env={"JOBLEDGER_DB": db, "COLUMNS": "160"})
    finally:
        for console, width in zip(consoles, before, strict=True):
            console._width = width


WORKER = Actor("worker-1", "acme")
pytestmark = pytest.mark.rules  # how the CLI shows steps; the stores' part is tested elsewhere


def test_steps_print_a_timeline_and_costs_say_what_each_action_cost(db_url: str) -> None:
    ledger = build_ledger(Settings(db=db_url))
    job = ledger.submit(Actor("alice", "acme"), "graph_analysis").job_id
    lease = ledger.claim(WORKER, job, agent="w").lease_id
    assert lease is not None
    search = {"toolName": "search_individual", "success": True, "executionTimeMs": 380}
    ledger.append_steps(
        WORKER,
        job,
        lease_id=lease,
        steps=[
            {
                "workId": 1,
                "actionName": "classify",
                "success": True,
                "durationMs": 1200,
                "executedAt": "2026-11-01T09:00:00Z",
                "model": "gpt-4o",
                "inputTokens": 1_000_000,
            },
            {
                "workId": 2,
                "actionName": "screen",
                "success": False,
                "durationMs": 400,
                "executedAt": "2026-11-01T09:00:01.500Z",
                "toolCalls": [search],
            },
        ],
    )
    ledger.close()

    done = jobledger("steps", str(job), db=db_url)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    first = next(line for line in lines if "classify" in line)
    second = next(line for line in lines if "screen" in line)
    assert "09:00:00.000" in first
    assert "1.20s" in first
    assert "2.500000 USD" in first
    assert "+1.5" in second
    assert "400ms" in second
    assert "search_individual 380ms" in second
    assert any("total" in line and "1.60s" in line for line in lines)

    costs = jobledger("costs", "--by", "action", db=db_url)
    assert costs.exit_code == 0, costs.output
    assert any("classify" in line and "2.500000 USD" in line for line in costs.stdout.splitlines())
