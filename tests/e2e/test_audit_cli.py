"""``jobledger audit`` as an auditor runs it: keep a checkpoint, verify against it,
prove a job's events; exit code 0 only when all holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.test_cli import jobledger, submit


def test_an_auditor_keeps_a_checkpoint_proves_a_job_and_catches_a_changed_byte(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    job_id = submit(db)
    taken = jobledger("audit", "checkpoint", db=db)
    assert taken.returncode == 0, taken.stderr
    kept = tmp_path / "cp.json"
    kept.write_text(taken.stdout)
    assert json.loads(taken.stdout)["tree_size"] == 1

    proved = jobledger("audit", "prove", job_id, "--checkpoint", str(kept), db=db)
    assert proved.returncode == 0, proved.stderr
    assert json.loads(proved.stdout)["holds"] is True

    verified = jobledger("audit", "verify", "--since", str(kept), db=db)
    assert verified.returncode == 0, verified.stderr
    assert "verified 1 event;" in verified.stdout

    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("DROP TRIGGER stored_events_no_update")
        conn.execute(
            "UPDATE stored_events SET state = replace(state, 'acme', 'acmf') WHERE rowid = 1"
        )
    broken = jobledger("audit", "verify", "--since", str(kept), db=db)
    assert broken.returncode == 1
    assert f"changed: job {job_id}, version 1, position 1" in broken.stdout
    assert "no longer produced" in broken.stdout
