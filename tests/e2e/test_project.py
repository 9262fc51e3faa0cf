"""``jobledger project`` as an operator runs it: it keeps the read models and sweeps leases."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings
from jobledger.domain.lifecycle import JobStatus
from tests.conftest import ANALYST, WORKER
from tests.e2e.test_cli import JOBLEDGER


def test_project_catches_up_and_expires_a_lease_that_ran_out(db_url: str) -> None:
    ledger = build_ledger(Settings.load(db=db_url))
    try:
        job_id = ledger.submit(ANALYST, "graph_analysis").job_id
        lease = ledger.claim(WORKER, job_id, agent="w", lease_seconds=0.5).lease_id
        assert lease is not None
        ledger.start(WORKER, job_id, lease_id=lease)
        process = subprocess.Popen(
            [JOBLEDGER, "project", "--db", db_url],
            env={**os.environ, "JOBLEDGER_SWEEP_SECONDS": "0.2"},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            while ledger.get(job_id).status is not JobStatus.QUEUED:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the lease was not expired"
                time.sleep(0.1)
            runner = build_runner(ledger)
            end = ledger.recorder.max_notification_id() or 0
            while min(runner.positions().values()) < end:
                assert time.monotonic() < deadline, "the read models did not catch up"
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
        assert ledger.get(job_id).attempt == 2
    finally:
        ledger.close()
