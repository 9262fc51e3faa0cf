"""The blocking flavour: one keep-alive connection pool, heartbeats in a thread."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from jobledger.adapters.client.batches import Command, Commands, claim_many_call, take_each
from jobledger.adapters.client.claims import Agent, Task
from jobledger.adapters.client.core import (
    RETRYING,
    Backoff,
    Call,
    Json,
    Waiting,
    answer_of,
    final,
    must,
    transient,
)
from jobledger.adapters.client.errors import ApiError, Unavailable
from jobledger.adapters.client.methods import JobCommands, JobRequests

log = logging.getLogger("jobledger.client")


class JobledgerClient(JobRequests[Json]):
    """Blocking calls over one keep-alive connection pool."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        backoff: Backoff = RETRYING,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.backoff = backoff
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, call: Call) -> Json | None:
        """Send ``call``, repeating it after transient failures (502-504, network)."""
        delays = self.backoff.delays()
        while True:
            try:
                return answer_of(self._request(call))
            except (httpx.TransportError, ApiError) as error:
                delay = next(delays, None)
                if not transient(error) or delay is None:
                    raise final(error) from error
                time.sleep(delay)

    def _request(self, call: Call) -> httpx.Response:
        return self.http.send(call.build(self.http))

    def _answer(self, call: Call) -> Json:
        return must(self.send(call))

    def wait(self, job_id: str, timeout: float = 600.0) -> Json:
        """The envelope once the job is terminal, or as it stands when ``timeout`` ends."""
        waiting = Waiting(job_id, time.monotonic() + timeout)
        while True:
            call = waiting.call(time.monotonic())
            try:
                if waiting.long_polls:
                    job: Json | None = must(answer_of(self._request(call)))
                else:
                    job = self._answer(call)
            except (httpx.TransportError, ApiError) as error:
                waiting.failed(error)
                job = None
            now = time.monotonic()
            if job is not None and waiting.ended(job, now):
                return job
            if now >= waiting.deadline:
                return self.get(job_id)
            time.sleep(waiting.pause(now))


class ClaimedJob(JobCommands[Json]):
    """A job claimed under a lease, for blocking code; heartbeats run in a thread
    while its ``with`` block is open."""

    def __init__(self, client: JobledgerClient, task: Task, heartbeat_every: float) -> None:
        self.client = client
        self.task = task
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beats = threading.Thread(
            target=self._beat, args=(heartbeat_every,), name="heartbeat", daemon=True
        )

    def __enter__(self) -> Self:
        self._beats.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the heartbeats; a block that ended without an outcome says so (see
        ``Task.closing``): an exception fails the attempt as retryable."""
        self._stop.set()
        self._beats.join()
        call = self.task.closing(kind, error)
        if call is not None:
            try:
                self.task.take(must(self.client.send(call)))
            except (ApiError, Unavailable) as refused:
                log.warning("job %s: closing it failed: %s", self.task.job_id, refused)

    def send(self, action: str, **fields: Any) -> Json:
        with self._lock:  # one command at a time, heartbeats included
            try:
                answer = self.client.send(self.task.call(action, **fields))
            except ApiError as error:
                raise self.task.refused(error) from None
            return self.task.take(must(answer))

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            if self.task.ended:
                return
            with contextlib.suppress(ApiError, Unavailable):
                self.send("heartbeat")


class Worker:
    """Claims jobs for one agent. ``claim`` gives a ``ClaimedJob`` to use in a ``with``
    block: heartbeats run in the background every third of the lease while it is open."""

    def __init__(self, client: JobledgerClient, agent: str | Agent) -> None:
        self.client = client
        self.agent = agent if isinstance(agent, Agent) else Agent(agent)

    def claim(self, wait_seconds: int = 0) -> ClaimedJob | None:
        """The next job, claimed; None when there was none within ``wait_seconds``."""
        claimed = self.client.send(self.agent.claim_call(wait_seconds))
        if claimed is None:
            return None
        return ClaimedJob(self.client, Task.of(claimed), self.agent.heartbeat_every)

    def claim_many(self, most: int, wait_seconds: int = 0) -> list[ClaimedJob]:
        """Up to ``most`` jobs claimed in one request, each with its own lease (and its
        own heartbeats once in a ``with`` block); empty when there was none."""
        answer = self.client._answer(claim_many_call(self.agent, most, wait_seconds))
        every = self.agent.heartbeat_every
        return [ClaimedJob(self.client, Task.of(c), every) for c in answer["claims"]]

    def send_many(self, commands: Sequence[Command[ClaimedJob]]) -> list[Json | ApiError]:
        """Commands of several claimed jobs in one request (``(job, "start")``, ``(job,
        "complete", {"result": ...})``), run in order. Each item's answer is applied to
        its own job and returned in its place: where the job stands, or the refusal,
        returned rather than raised (a ``LeaseLost`` marks that job only)."""
        sending = Commands.of(commands)
        with contextlib.ExitStack() as held:
            for job in sending.jobs:  # one command at a time on a job, heartbeats included
                held.enter_context(job._lock)
            return [
                taken
                for call, tasks in sending.calls
                for taken in take_each(tasks, self.client._answer(call))
            ]

    def jobs(self, wait_seconds: int = 20) -> Iterator[ClaimedJob]:
        """Claimed jobs, one after another, for ever."""
        while True:
            job = self.claim(wait_seconds)
            if job is not None:
                yield job
