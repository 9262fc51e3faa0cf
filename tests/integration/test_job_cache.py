"""Jobs kept in memory between commands: the cache never disagrees with the store.

A process keeps the jobs it loaded (the ledger's aggregate cache) and reads only the
events recorded since. Another process writing the same job, a refused command and a
command whose save fails must all leave the next command deciding on what is stored.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobledger.domain.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    IllegalTransition,
    JobNotFound,
    LeaseMismatch,
)
from jobledger.domain.ledger import Ledger
from jobledger.domain.lifecycle import JobStatus
from jobledger.domain.values import CommandMeta
from tests.conftest import ANALYST, WORKER, running_job


def test_the_ledger_keeps_jobs_in_memory(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    ledger.get(job_id)
    assert ledger.repository.cache is not None
    assert ledger.repository.fastforward


def test_a_job_another_process_changed_is_seen_by_the_next_command(
    open_ledger: Callable[..., Ledger],
) -> None:
    here, elsewhere = open_ledger(), open_ledger()
    job_id = here.submit(ANALYST, "graph_analysis").job_id
    assert here.get(job_id).status is JobStatus.QUEUED  # now in this process's memory
    elsewhere.claim(WORKER, job_id, agent="other")
    with pytest.raises(IllegalTransition):
        here.claim(WORKER, job_id, agent="me")  # decided on the claimed job, not the cached one
    job = here.get(job_id)
    assert (job.status, job.agent, job.version) == (JobStatus.CLAIMED, "other", 2)


def test_a_command_whose_save_fails_leaves_the_job_as_stored(ledger: Ledger) -> None:
    """The claim changes the job, then its save fails on the reused command id: the
    job in memory must not keep the change that was never stored."""
    job_id, lease = running_job(ledger)
    ledger.report_progress(
        WORKER, job_id, lease_id=lease, percent=5, meta=CommandMeta(command_id="c1")
    )
    other = ledger.submit(ANALYST, "graph_analysis").job_id
    ledger.get(other)
    with pytest.raises(IdempotencyConflict):
        ledger.claim(WORKER, other, agent="w", meta=CommandMeta(command_id="c1"))
    job = ledger.get(other)
    assert (job.status, job.version, job.lease_id) == (JobStatus.QUEUED, 1, None)
    assert ledger.claim(WORKER, other, agent="w").version == 2


def test_refused_and_conflicting_commands_leave_the_job_as_stored(ledger: Ledger) -> None:
    job_id, lease = running_job(ledger)
    with pytest.raises(LeaseMismatch):
        ledger.complete(WORKER, job_id, lease_id="stale", result={"nodes": 1, "edges": 0})
    with pytest.raises(ConcurrencyConflict):
        ledger.report_progress(
            WORKER, job_id, lease_id=lease, percent=50, meta=CommandMeta(expected_version=1)
        )
    job = ledger.get(job_id)
    assert (job.status, job.progress, job.version) == (JobStatus.RUNNING, 0, 3)


def test_what_a_caller_does_to_an_answered_job_does_not_reach_the_ledger(ledger: Ledger) -> None:
    job_id = ledger.submit(ANALYST, "graph_analysis").job_id
    outcome = ledger.claim(WORKER, job_id, agent="w")
    assert outcome.job is not None
    outcome.job.status_value = JobStatus.COMPLETED.value
    ledger.get(job_id).status_value = JobStatus.FAILED.value
    assert ledger.get(job_id).status is JobStatus.CLAIMED


def test_a_job_submitted_here_is_held_and_tells_its_workflow_without_the_store(
    open_ledger: Callable[..., Ledger],
) -> None:
    here, elsewhere = open_ledger(), open_ledger()
    job_id = here.submit(ANALYST, "graph_analysis", meta=CommandMeta("wf-1")).job_id
    assert here.repository.cache is not None
    assert here.repository.cache.get(job_id).version == 1  # held since its submission
    assert here.workflow(job_id, tenant="acme") == "wf-1"
    assert elsewhere.workflow(job_id, tenant="acme") == "wf-1"  # read from the store
    here.claim(WORKER, job_id, agent="w")
    for ledger in (here, elsewhere):
        with pytest.raises(JobNotFound):
            ledger.workflow(job_id, tenant="globex")
