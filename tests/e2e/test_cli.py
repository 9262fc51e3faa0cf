"""The jobledger command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

JOBLEDGER = str(Path(sys.executable).with_name("jobledger"))


def jobledger(*args: str, db: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "160", **env}
    if db is not None:
        environment["JOBLEDGER_DB"] = db
    return subprocess.run(
        [JOBLEDGER, *args], capture_output=True, text=True, env=environment, timeout=120
    )


def submit(db: str, *extra: str) -> str:
    done = jobledger("submit", "--tenant", "acme", "--type", "entity_extraction", *extra, db=db)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_submit_prints_only_the_job_id_and_show_tells_its_story(db_url: str) -> None:
    job_id = submit(
        db_url,
        "--investigation",
        "INV-9",
        "--input",
        "memo.pdf:application/pdf:5120:s3://b/memo",
        "--as",
        "alice@acme",
    )
    assert len(job_id) == 36

    shown = jobledger("show", job_id, db=db_url)
    assert shown.returncode == 0, shown.stderr
    for expected in (
        "queued",
        "entity_extraction",
        "INV-9",
        "alice@acme",
        "memo.pdf",
        "status history",
    ):
        assert expected in shown.stdout


def test_db_option_wins_over_the_environment(tmp_path: Path) -> None:
    here, elsewhere = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    job_id = submit(here)
    assert jobledger("show", job_id, "--db", here, db=elsewhere).returncode == 0
    assert jobledger("show", job_id, db=elsewhere).returncode == 7


def test_reading_a_ledger_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    done = jobledger("show", "00000000-0000-0000-0000-000000000000", db=f"sqlite:///{typo}")
    assert (done.returncode, done.stderr.strip()) == (
        7,
        f"error: no ledger at {typo}: nothing has been recorded there",
    )
    assert not typo.exists()


def test_replay_shows_the_job_as_it_stood_at_a_version_and_a_moment(db_url: str) -> None:
    job_id = submit(db_url)
    assert jobledger("cancel", job_id, "--tenant", "acme", db=db_url).returncode == 0
    then = jobledger("replay", job_id, "--version", "1", db=db_url)
    assert then.returncode == 0, then.stderr
    assert "at version 1 of 2" in then.stdout
    assert "queued" in then.stdout
    assert "cancelled" not in then.stdout
    now = jobledger("replay", job_id, "--as-of", "2999-01-01T00:00:00Z", db=db_url)
    assert "at version 2 of 2" in now.stdout
    assert "cancelled" in now.stdout


def test_show_json_is_machine_readable(db_url: str) -> None:
    import json

    job_id = submit(db_url)
    state = json.loads(jobledger("show", job_id, "--json", db=db_url).stdout)
    assert (state["id"], state["status_value"], state["cost"]) == (job_id, "queued", "0")


@pytest.mark.rules  # what the CLI says of bad input does not depend on the store
@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["show", "not-a-uuid"], "is not a job id", 2),
        (["cancel", "00000000-0000-0000-0000-000000000000", "--tenant", "acme"], "not found", 3),
        (["submit", "--tenant", "acme", "--type", "sentiment"], "unknown job type 'sentiment'", 2),
        (
            ["submit", "--tenant", "acme", "--type", "graph_analysis", "--priority", "12"],
            "priority",
            2,
        ),
        (
            ["submit", "--tenant", "acme", "--type", "graph_analysis", "--input", "x"],
            "NAME:MEDIA_TYPE:SIZE",
            2,
        ),
        (
            ["submit", "--tenant", "acme", "--type", "graph_analysis", "--config", "{"],
            "--config: not valid JSON",
            2,
        ),
        (
            ["show", "00000000-0000-0000-0000-000000000000", "--db", "postgresql://x"],
            "expected postgresql://user@host:port/database",
            6,
        ),
        (
            [
                "show",
                "00000000-0000-0000-0000-000000000000",
                "--db",
                "postgresql://u@127.0.0.1:9/d",
            ],
            "cannot use postgresql://u@127.0.0.1:9/d",
            7,
        ),
        (
            ["show", "00000000-0000-0000-0000-000000000000", "--db", "mysql://x"],
            "cannot use 'mysql://x'",
            6,
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(
    db_url: str, args: list[str], message: str, code: int
) -> None:
    submit(db_url)  # a ledger exists, so what fails is the input
    done = jobledger(*args, db=db_url)
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr + done.stdout


def test_replay_refuses_a_version_the_job_never_had(db_url: str) -> None:
    job_id = submit(db_url)
    done = jobledger("replay", job_id, "--version", "99", db=db_url)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --version: job {job_id} has versions 1 to 1"


def test_cancel_is_immediate_for_a_queued_job(db_url: str) -> None:
    job_id = submit(db_url)
    done = jobledger("cancel", job_id, "--tenant", "acme", "--reason", "duplicate", db=db_url)
    assert (done.returncode, done.stdout.strip()) == (0, f"cancelled {job_id}")
    assert "duplicate" in jobledger("show", job_id, db=db_url).stdout


def test_an_illegal_transition_names_the_state_and_what_is_allowed(db_url: str) -> None:
    job_id = submit(db_url)
    assert jobledger("cancel", job_id, "--tenant", "acme", db=db_url).returncode == 0
    done = jobledger("cancel", job_id, "--tenant", "acme", db=db_url)
    assert done.returncode == 4
    assert done.stderr.strip() == (
        f"error: job {job_id} is cancelled: cancel is not allowed; "
        "allowed now: none (the job is finished)"
    )


def test_an_unwritable_database_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = jobledger(
        "submit", "--tenant", "a", "--type", "graph_analysis", db=f"sqlite:///{tmp_path}/file/x.db"
    )
    assert done.returncode == 7
    assert (
        done.stderr.strip()
        == f"error: cannot create database {tmp_path}/file/x.db: {tmp_path}/file is not a folder"
    )


def test_a_broken_price_book_is_one_line(tmp_path: Path, db_url: str) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('version = "v"\n')
    done = jobledger(
        "submit",
        "--tenant",
        "a",
        "--type",
        "graph_analysis",
        db=db_url,
        JOBLEDGER_PRICE_BOOK=str(prices),
    )
    assert done.returncode == 6
    assert "effective_from: Field required" in done.stderr


def test_the_demo_runs_every_job_to_an_end_and_prints_cost_per_tenant(db_url: str) -> None:
    done = jobledger(
        "demo", "--jobs", "8", "--workers", "3", "--seed", "3", "--speed", "20", db=db_url
    )
    assert done.returncode == 0, done.stderr
    assert "acme-bank" in done.stdout
    assert "globex-insurance" in done.stdout
    assert "USD" in done.stdout
    assert "Traceback" not in done.stderr
