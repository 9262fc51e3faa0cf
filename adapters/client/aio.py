"""The asyncio flavour: the same methods as ``sync``, awaited; heartbeats as a task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
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
Answer = Coroutine[Any, Any, Json]


class AsyncJobledgerClient(JobRequests[Answer]):
    """The calls of ``JobledgerClient`` for asyncio code."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        backoff: Backoff = RETRYING,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.backoff = backoff
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, call: Call) -> Json | None:
        """Send ``call``, repeating it after transient failures (502-504, network)."""
        delays = self.backoff.delays()
        while True:
            try:
                return answer_of(await self._request(call))
            except (httpx.TransportError, ApiError) as error:
                delay = next(delays, None)
                if not transient(error) or delay is None:
                    raise final(error) from error
                await asyncio.sleep(delay)

    async def _request(self, call: Call) -> httpx.Response:
        return await self.http.send(call.build(self.http))

    async def _answer(self, call: Call) -> Json:
        return must(await self.send(call))

    async def wait(self, job_id: str, timeout: float = 600.0) -> Json:
        """The envelope once the job is terminal, or as it stands when ``timeout`` ends."""
        loop = asyncio.get_running_loop()
        waiting = Waiting(job_id, loop.time() + timeout)
        while True:
            call = waiting.call(loop.time())
            try:
                if waiting.long_polls:
                    job: Json | None = must(answer_of(await self._request(call)))
                else:
                    job = await self._answer(call)
            except (httpx.TransportError, ApiError) as error:
                waiting.failed(error)
                job = None
            now = loop.time()
            if job is not None and waiting.ended(job, now):
                return job
            if now >= waiting.deadline:
                return await self.get(job_id)
            await asyncio.sleep(waiting.pause(now))


class AsyncClaimedJob(JobCommands[Answer]):
    """A job claimed under a lease, for asyncio code; heartbeats run as a task while
    its ``async with`` block is open."""

    def __init__(self, client: AsyncJobledgerClient, task: Task, heartbeat_every: float) -> None:
        self.client = client
        self.task = task
        self.every = heartbeat_every
        self._lock = asyncio.Lock()
        self._beats: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._beats = asyncio.create_task(self._beat())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the heartbeats; a block that ended without an outcome says so (see
        ``Task.closing``): an exception fails the attempt as retryable."""
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
        call = self.task.closing(kind, error)
        if call is not None:
            try:
                self.task.take(must(await self.client.send(call)))
            except (ApiError, Unavailable) as refused:
                log.warning("job %s: closing it failed: %s", self.task.job_id, refused)

    async def send(self, action: str, **fields: Any) -> Json:
        async with self._lock:  # one command at a time, heartbeats included
            try:
                answer = await self.client.send(self.task.call(action, **fields))
            except ApiError as error:
                raise self.task.refused(error) from None
            return self.task.take(must(answer))

    async def _beat(self) -> None:
        while not self.task.ended:
            await asyncio.sleep(self.every)
            with contextlib.suppress(ApiError, Unavailable):
                await self.send("heartbeat")


class AsyncWorker:
    """Claims jobs for one agent, as ``Worker`` does, for asyncio code."""

    def __init__(self, client: AsyncJobledgerClient, agent: str | Agent) -> None:
        self.client = client
        self.agent = agent if isinstance(agent, Agent) else Agent(agent)

    async def claim(self, wait_seconds: int = 0) -> AsyncClaimedJob | None:
        """The next job, claimed; None when there was none within ``wait_seconds``."""
        claimed = await self.client.send(self.agent.claim_call(wait_seconds))
        if claimed is None:
            return None
        return AsyncClaimedJob(self.client, Task.of(claimed), self.agent.heartbeat_every)

    async def claim_many(self, most: int, wait_seconds: int = 0) -> list[AsyncClaimedJob]:
        """Up to ``most`` jobs claimed in one request, as ``Worker.claim_many``."""
        answer = await self.client._answer(claim_many_call(self.agent, most, wait_seconds))
        every = self.agent.heartbeat_every
        return [AsyncClaimedJob(self.client, Task.of(c), every) for c in answer["claims"]]

    async def send_many(
        self, commands: Sequence[Command[AsyncClaimedJob]]
    ) -> list[Json | ApiError]:
        """Commands of several claimed jobs in one request, as ``Worker.send_many``."""
        sending = Commands.of(commands)
        async with contextlib.AsyncExitStack() as held:
            for job in sending.jobs:  # one command at a time on a job, heartbeats included
                await held.enter_async_context(job._lock)
            taken: list[Json | ApiError] = []
            for call, tasks in sending.calls:
                taken += take_each(tasks, await self.client._answer(call))
            return taken

    async def jobs(self, wait_seconds: int = 20) -> AsyncIterator[AsyncClaimedJob]:
        """Claimed jobs, one after another, for ever."""
        while True:
            job = await self.claim(wait_seconds)
            if job is not None:
                yield job
