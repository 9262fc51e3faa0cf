"""Old events keep working: a ledger written by release 1 (before hashes) replays,
projects and verifies, reproducing the checkpoint of its committed export; an event
from before a field existed is upcast; a job replayed as of a moment is the job as it
stood at that moment."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.adapters.audit.auditor import verify_log
from jobledger.adapters.audit.signing import signed_by
from jobledger.adapters.audit.transfer import export_log, import_log
from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.exports import check_file
from jobledger.domain.events import JobStarted
from jobledger.domain.job import Job
from jobledger.domain.ledger import Ledger
from tests.conftest import ANALYST, WORKER, MovableClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The release-1 SQLite file as SQL text (sqlite3's dump: every stored byte, as X'..'
# literals), so no database file is tracked; each test restores it into its own folder.
RELEASE_1 = FIXTURES / "ledger-release-1.sql"
EXPORT_1 = FIXTURES / "ledger-release-1.jsonl"
# The public half of the key that signed its checkpoints (raw Ed25519, base64).
PUBLIC_1 = Ed25519PublicKey.from_public_bytes(
    base64.b64decode((FIXTURES / "ledger-release-1.public-key.txt").read_text())
)
# Later releases added steps and tasks (StepsAppended, Task*, *VerdictReached).
RELEASE_1_EVENT_TYPES = {
    "AttemptFailed", "CancellationAcknowledged", "CancellationRequested", "HeartbeatRecorded",
    "JobCancelled", "JobClaimed", "JobCompleted", "JobFailed", "JobReleased", "JobStarted",
    "JobSubmitted", "LeaseExpired", "ProgressReported", "UploadStarted", "UsageRecorded",
    "ValidationStarted",
}  # fmt: skip


def kept_checkpoint() -> Checkpoint:
    last = EXPORT_1.read_text().splitlines()[-1]
    return Checkpoint.from_json(json.loads(last))


def opened_copy(
    tmp_path: Path, change: Callable[[sqlite3.Connection], object] | None = None
) -> Ledger:
    copy = tmp_path / "release-1.db"
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.executescript(RELEASE_1.read_text())
        if change is not None:
            change(conn)
            conn.commit()
    return build_ledger(Settings(db=f"sqlite:///{copy}"), create=False)


def replays_projects_and_verifies(ledger: Ledger, kept: list[Checkpoint]) -> None:
    jobs = {n.originator_id for n in ledger.recorder.select_notifications(start=1, limit=1000)}
    events = [e for job in jobs for e in ledger.job_events(UUID(str(job)))]
    # Every event type release 1 had; later releases add types (steps, tasks), which a
    # fixture written by that later release will carry.
    assert {type(e).__name__ for e in events} == RELEASE_1_EVENT_TYPES
    for job in jobs:
        assert ledger.get(UUID(str(job))).version >= 1
    runner = build_runner(ledger)
    runner.catch_up()
    assert all(s.lag == 0 for s in runner.status())
    log = backend_of(ledger).audit_log(ledger)
    assert verify_log(log, PUBLIC_1, kept).breaks == []


def test_the_release_1_ledger_replays_projects_and_reproduces_its_checkpoint(
    tmp_path: Path,
) -> None:
    ledger = opened_copy(tmp_path)
    replays_projects_and_verifies(ledger, [kept_checkpoint()])
    ledger.close()


def test_the_release_1_export_verifies_offline_and_imports_to_the_same_export(
    tmp_path: Path,
) -> None:
    text = EXPORT_1.read_text()
    assert check_file(io.StringIO(text), lambda c: signed_by(c, PUBLIC_1)).breaks == []
    ledger = build_ledger(Settings(db=f"sqlite:///{tmp_path / 'imported.db'}"))
    log = backend_of(ledger).audit_log(ledger)
    import_log(log, lambda: io.StringIO(text), lambda c: signed_by(c, PUBLIC_1))
    again = io.StringIO()
    export_log(log, again.write)
    assert again.getvalue() == text
    ledger.close()


def test_a_job_started_before_the_field_existed_is_upcast_and_verifies(tmp_path: Path) -> None:
    """Release 1's JobStarted always names the lease deadline; older ones had no field."""

    def drop_the_field(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE stored_events SET state = CAST(json_remove(state, '$.lease_expires_at') "
            "AS BLOB) WHERE topic = 'jobledger.domain.events:JobStarted'"
        )

    ledger = opened_copy(tmp_path, drop_the_field)
    started = [
        ledger.mapper.to_domain_event(n)
        for n in ledger.recorder.select_notifications(start=1, limit=1000)
        if n.topic.endswith(":JobStarted")
    ]
    assert started
    assert all(isinstance(e, JobStarted) and e.lease_expires_at is None for e in started)
    replays_projects_and_verifies(ledger, [])  # hashed as stored: not release 1's bytes
    ledger.close()


def state_of(job: Job) -> dict[str, Any]:
    return {k: v for k, v in vars(job).items() if not k.startswith("_")}


STEPS: list[Callable[[Ledger, UUID, str], object]] = [
    lambda ledger, job, lease: ledger.start(WORKER, job, lease_id=lease),
    lambda ledger, job, lease: ledger.report_progress(WORKER, job, lease_id=lease, percent=30),
    lambda ledger, job, lease: ledger.record_usage(
        WORKER, job, lease_id=lease, model="gpt-4o", input_tokens=100
    ),
    lambda ledger, job, lease: ledger.heartbeat(WORKER, job, lease_id=lease),
    lambda ledger, job, lease: ledger.report_progress(WORKER, job, lease_id=lease, percent=80),
    lambda ledger, job, lease: ledger.complete(
        WORKER, job, lease_id=lease, result={"nodes": 1, "edges": 0, "communities": 0}
    ),
]


def test_a_job_replayed_as_of_a_moment_is_the_job_as_it_stood_then(tmp_path: Path) -> None:
    clock = MovableClock()
    ledger = build_ledger(Settings(db=f"sqlite:///{tmp_path / 'asof.db'}"), clock=clock)

    @settings(max_examples=15, deadline=None)
    @given(
        pauses=st.lists(st.integers(min_value=0, max_value=600), min_size=2, max_size=8),
        probes=st.lists(st.integers(min_value=0, max_value=5000), max_size=6),
    )
    def check(pauses: list[int], probes: list[int]) -> None:
        start = clock.advance(seconds=1)
        job = ledger.submit(ANALYST, "graph_analysis").job_id
        seen = [(clock(), state_of(ledger.get(job)))]
        lease = ledger.claim(WORKER, job, agent="w").lease_id
        assert lease is not None
        seen.append((clock(), state_of(ledger.get(job))))
        for pause, step in zip(pauses, STEPS, strict=False):
            clock.advance(seconds=pause)
            step(ledger, job, lease)
            seen.append((clock(), state_of(ledger.get(job))))
        for probe in [0, *probes]:
            moment = start + timedelta(seconds=probe)
            expected = [s for at, s in seen if at <= moment][-1]
            assert state_of(ledger.get_as_of(job, moment)) == expected

    check()
    ledger.close()
