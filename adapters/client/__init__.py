"""A Python client for the jobledger HTTP API, blocking (``sync``) and asyncio (``aio``).

``JobledgerClient`` submits jobs and waits for them: a long poll, falling back to
polling every second and growing when a proxy or the server cuts long polls.
``Worker`` claims jobs and gives each as a ``ClaimedJob``: it renews the lease in the
background and retries commands that met a transient network error. Retrying is
safe because every submit carries an idempotency key and every worker command a
command id: the server answers a repeat with the first answer and records nothing
twice. Claims carry a command id too: a claim repeated after a lost answer gets the
same job and lease back, so no job is left claimed by nobody.

    client = JobledgerClient("http://127.0.0.1:8000", token)
    job = client.submit("entity_extraction", inputs=[...], correlation_id="case-7")
    done = client.wait(job["id"])

    worker = Worker(JobledgerClient(url, worker_token), agent="gpu-1")
    job = worker.claim(wait_seconds=20)           # None: nothing to do
    if job is not None:
        with job:                                 # heartbeats run while it is open
            job.start()
            job.progress(50)
            job.complete({"entities": 3})

The asyncio flavour has the same classes with ``Async`` in front and the same
methods, awaited: ``methods.py`` writes each method once for both. Every command on
a claimed job carries the job's workflow (the claim's ``correlationId``) as
``X-Correlation-ID``.
"""

from __future__ import annotations

from jobledger.adapters.client.aio import AsyncClaimedJob, AsyncJobledgerClient, AsyncWorker
from jobledger.adapters.client.claims import Agent, Task
from jobledger.adapters.client.core import Backoff, Call
from jobledger.adapters.client.errors import ApiError, LeaseLost, Unavailable
from jobledger.adapters.client.sync import ClaimedJob, JobledgerClient, Worker

__all__ = [
    "Agent",
    "ApiError",
    "AsyncClaimedJob",
    "AsyncJobledgerClient",
    "AsyncWorker",
    "Backoff",
    "Call",
    "ClaimedJob",
    "JobledgerClient",
    "LeaseLost",
    "Task",
    "Unavailable",
    "Worker",
]
