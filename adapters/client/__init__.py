"""A Python client for the jobledger HTTP API, synchronous and asynchronous (httpx).

``JobledgerClient`` submits jobs and waits for them: a long poll, falling back to
polling every second and growing when a proxy or the server cuts long polls.
``Worker`` claims jobs and runs them: it renews the lease in the background and
retries commands that met a transient network error. Retrying is safe because
every submit carries an idempotency key and every worker command a command id:
the server answers a repeat with the first answer and records nothing twice.

    client = JobledgerClient("http://127.0.0.1:8000", token)
    job = client.submit("entity_extraction", inputs=[...])
    done = client.wait(job["id"])

    worker = Worker(JobledgerClient(url, worker_token), agent="gpu-1")
    job = worker.claim(wait_seconds=20)           # None: nothing to do
    if job is not None:
        with job:                                 # heartbeats run while it is open
            job.start()
            job.progress(50)
            job.complete({"entities": 3})

Claims carry a command id too: a claim repeated after a lost answer gets the same
job and lease back, so no job is left claimed by nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

import httpx

log = logging.getLogger("jobledger.client")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
TRANSIENT_STATUSES = frozenset({502, 503, 504})
Json = dict[str, Any]


class ApiError(Exception):
    """The server refused a request; ``problem`` is its application/problem+json body."""

    def __init__(self, status: int, problem: Json) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class LeaseLost(ApiError):
    """The lease is no longer this worker's (it ran out, or the job moved on): stop."""


class Unavailable(Exception):
    """The server could not be reached, or stayed busy, through every retry."""


@dataclass(frozen=True)
class Backoff:
    """Delays between tries: ``first``, growing by ``factor`` up to ``longest``, each
    jittered by up to a quarter so many clients do not retry in step."""

    first: float = 0.2
    factor: float = 2.0
    longest: float = 5.0
    tries: int = 8

    def delays(self) -> Iterator[float]:
        delay = self.first
        for _ in range(self.tries - 1):
            yield delay * (0.75 + random.random() / 4)
            delay = min(delay * self.factor, self.longest)


POLLING = Backoff(first=1.0, factor=1.5, longest=30.0)  # as the jobs API guide advises


@dataclass(frozen=True)
class Call:
    """One request, described once for both clients."""

    method: str
    path: str
    json: Json | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    read_timeout: float | None = None  # a long poll waits longer than a plain request

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request on ``http`` (its base URL, token and timeouts)."""
        timeout = http.timeout
        if self.read_timeout is not None:
            timeout = httpx.Timeout(timeout.connect, read=self.read_timeout)
        return http.build_request(
            self.method,
            self.path,
            json=self.json,
            params=self.params,
            headers=self.headers,
            timeout=timeout,
        )


def answer_of(response: httpx.Response) -> Json | None:
    """The JSON answer, None for 204; a refusal raises ``ApiError`` (``LeaseLost`` when
    the lease is gone)."""
    if response.status_code == 204:
        return None
    if response.is_success:
        found: Json = response.json()
        return found
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)}
    if problem.get("code") == "lease_mismatch":
        raise LeaseLost(response.status_code, problem)
    raise ApiError(response.status_code, problem)


def _transient(error: Exception) -> bool:
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, ApiError) and error.status in TRANSIENT_STATUSES


# -- the requests -------------------------------------------------------------------


def submit_call(job_type: str, idempotency_key: str | None = None, **fields: Any) -> Call:
    body = {"type": job_type, **{_camel(k): v for k, v in fields.items() if v is not None}}
    return Call("POST", "/v1/jobs", body, headers={"Idempotency-Key": idempotency_key or _id()})


def wait_call(job_id: str, seconds: float) -> Call:
    wait = max(1, min(300, int(seconds)))
    return Call(
        "GET",
        f"/v1/jobs/{job_id}",
        params={"wait": "true", "timeout": str(wait)},
        read_timeout=wait + 15,
    )


def claim_call(
    agent: str, pool: str | None, types: Sequence[str], lease_seconds: float, wait_seconds: int
) -> Call:
    body: Json = {"agent": agent, "types": list(types), "leaseSeconds": lease_seconds}
    if pool is not None:
        body["pool"] = pool
    body["waitSeconds"] = wait_seconds
    body["commandId"] = _id()  # a retry after a lost answer gets the same claim back
    return Call("POST", "/v1/claims", body, read_timeout=wait_seconds + 15)


def command_call(job_id: str, action: str, lease_id: str, **fields: Any) -> Call:
    body = {_camel(k): v for k, v in fields.items() if v is not None}
    body.update(leaseId=lease_id, commandId=_id())  # fixed here: every retry repeats it
    return Call("POST", f"/v1/jobs/{job_id}/{action}", body)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _id() -> str:
    return uuid4().hex


# -- the clients --------------------------------------------------------------------


class JobledgerClient:
    """Blocking calls over one keep-alive connection pool."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        backoff: Backoff = Backoff(),
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
                if not _transient(error) or delay is None:
                    raise _final(error) from error
                time.sleep(delay)

    def _request(self, call: Call) -> httpx.Response:
        return self.http.send(call.build(self.http))

    def submit(self, job_type: str, *, idempotency_key: str | None = None, **fields: Any) -> Json:
        """Submit a job (fields as in ``POST /v1/jobs``, snake_case); the envelope."""
        return _must(self.send(submit_call(job_type, idempotency_key, **fields)))

    def get(self, job_id: str) -> Json:
        return _must(self.send(Call("GET", f"/v1/jobs/{job_id}")))

    def cancel(self, job_id: str, reason: str = "") -> Json:
        return _must(self.send(Call("POST", f"/v1/jobs/{job_id}/cancel", {"reason": reason})))

    def wait(self, job_id: str, timeout: float = 600.0) -> Json:
        """The envelope once the job is terminal, or as it stands when ``timeout`` ends."""
        deadline = time.monotonic() + timeout
        polling = POLLING.delays()
        long_polls = True
        while True:
            left = deadline - time.monotonic()
            try:
                if long_polls:
                    job = _must(answer_of(self._request(wait_call(job_id, left))))
                else:
                    job = self.get(job_id)
            except (httpx.TransportError, ApiError) as error:
                if not _transient(error):
                    raise _final(error) from error
                long_polls = False  # cut by a proxy or a busy server: poll instead
                job = None
            left = deadline - time.monotonic()
            if job is not None and (job["status"] in TERMINAL or left <= 0):
                return job
            if not long_polls:
                time.sleep(max(0.0, min(next(polling, POLLING.longest), left)))
            if left <= 0:
                return self.get(job_id)


class AsyncJobledgerClient:
    """The same calls for asyncio code."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        backoff: Backoff = Backoff(),
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
        delays = self.backoff.delays()
        while True:
            try:
                return answer_of(await self._request(call))
            except (httpx.TransportError, ApiError) as error:
                delay = next(delays, None)
                if not _transient(error) or delay is None:
                    raise _final(error) from error
                await asyncio.sleep(delay)

    async def _request(self, call: Call) -> httpx.Response:
        return await self.http.send(call.build(self.http))

    async def submit(
        self, job_type: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Json:
        return _must(await self.send(submit_call(job_type, idempotency_key, **fields)))

    async def get(self, job_id: str) -> Json:
        return _must(await self.send(Call("GET", f"/v1/jobs/{job_id}")))

    async def cancel(self, job_id: str, reason: str = "") -> Json:
        call = Call("POST", f"/v1/jobs/{job_id}/cancel", {"reason": reason})
        return _must(await self.send(call))

    async def wait(self, job_id: str, timeout: float = 600.0) -> Json:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        polling = POLLING.delays()
        long_polls = True
        while True:
            left = deadline - loop.time()
            try:
                if long_polls:
                    job = _must(answer_of(await self._request(wait_call(job_id, left))))
                else:
                    job = await self.get(job_id)
            except (httpx.TransportError, ApiError) as error:
                if not _transient(error):
                    raise _final(error) from error
                long_polls = False
                job = None
            left = deadline - loop.time()
            if job is not None and (job["status"] in TERMINAL or left <= 0):
                return job
            if not long_polls:
                await asyncio.sleep(max(0.0, min(next(polling, POLLING.longest), left)))
            if left <= 0:
                return await self.get(job_id)


def _must(answer: Json | None) -> Json:
    if answer is None:
        raise ApiError(204, {"detail": "the server answered with no content"})
    return answer


def _final(error: Exception) -> Exception:
    if isinstance(error, httpx.TransportError):
        return Unavailable(f"jobledger is unreachable: {error!r}")
    return error


# -- workers ------------------------------------------------------------------------


@dataclass
class Task:
    """A claimed job: what it needs, and where it stands after the latest answer."""

    job_id: str
    lease_id: str
    job_type: str
    attempt: int
    inputs: list[Json]
    config: Json
    lease_expires_at: datetime | None
    cancellation_requested: bool = False
    status: str = "claimed"
    lease_lost: bool = False

    @classmethod
    def of(cls, claimed: Json) -> Task:
        return cls(
            job_id=claimed["jobId"],
            lease_id=claimed["leaseId"],
            job_type=claimed["type"],
            attempt=claimed["attempt"],
            inputs=claimed["inputs"],
            config=claimed["config"],
            lease_expires_at=_time(claimed["leaseExpiresAt"]),
        )

    @property
    def ended(self) -> bool:
        return self.lease_lost or self.status in TERMINAL or self.status == "queued"

    def take(self, answer: Json) -> Json:
        self.status = answer["status"]
        self.lease_expires_at = _time(answer["leaseExpiresAt"])
        self.cancellation_requested = answer["cancellationRequested"]
        return answer

    def refused(self, error: ApiError) -> ApiError:
        """A refusal, as ``LeaseLost`` when it means this lease no longer holds the job
        (another lease does, or the job is queued again or finished)."""
        moved_on = error.status == 409 and error.problem.get("currentState") in {
            *TERMINAL,
            "queued",
        }
        if isinstance(error, LeaseLost) or moved_on:
            self.lease_lost = True
            return error if isinstance(error, LeaseLost) else LeaseLost(error.status, error.problem)
        return error

    def closing(self, kind: type[BaseException] | None, error: BaseException | None) -> Call | None:
        """What to tell the server when a worker's block ends without an outcome: an
        asked-for cancel is acknowledged, an unstarted job released, else the attempt
        fails as retryable. Nothing is left to wait for its lease to run out."""
        if self.ended:
            return None
        if self.cancellation_requested and self.status != "claimed":
            return command_call(self.job_id, "cancellation-ack", self.lease_id)
        if self.status == "claimed" and kind is None:
            return command_call(self.job_id, "release", self.lease_id, reason="not started")
        message = "the worker ended without an outcome"
        if kind is not None:
            message = f"{kind.__name__}: {error}"[:4000]
        return command_call(
            self.job_id,
            "fail",
            self.lease_id,
            code="worker_error",
            message=message,
            retryable=True,
        )


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


class Job:
    """A sync handle on a claimed job; each method is one worker command."""

    def __init__(self, client: JobledgerClient, task: Task, heartbeat_every: float) -> None:
        self.client = client
        self.task = task
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beats = threading.Thread(
            target=self._beat, args=(heartbeat_every,), name="heartbeat", daemon=True
        )

    def __enter__(self) -> Job:
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
                self.task.take(_must(self.client.send(call)))
            except (ApiError, Unavailable) as refused:
                log.warning("job %s: closing it failed: %s", self.task.job_id, refused)

    @property
    def cancellation_requested(self) -> bool:
        return self.task.cancellation_requested

    def _send(self, action: str, **fields: Any) -> Json:
        with self._lock:  # one command at a time, heartbeats included
            try:
                answer = self.client.send(
                    command_call(self.task.job_id, action, self.task.lease_id, **fields)
                )
            except ApiError as error:
                raise self.task.refused(error) from None
            return self.task.take(_must(answer))

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            if self.task.ended:
                return
            with contextlib.suppress(ApiError, Unavailable):
                self._send("heartbeat")

    def start(self) -> Json:
        return self._send("start")

    def progress(self, percent: int, message: str | None = None) -> Json:
        return self._send("progress", percent=percent, message=message)

    def findings(self, **counts: int) -> Json:
        return self._send("findings", **counts)

    def usage(
        self,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
    ) -> Json:
        return self._send(
            "usage",
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
        )

    def heartbeat(self) -> Json:
        return self._send("heartbeat")

    def validation(self) -> Json:
        return self._send("validation")

    def upload(self) -> Json:
        return self._send("upload")

    def complete(self, result: Json) -> Json:
        return self._send("complete", result=result)

    def fail(self, code: str, message: str = "", *, retryable: bool = False) -> Json:
        return self._send("fail", code=code, message=message, retryable=retryable)

    def release(self, reason: str = "") -> Json:
        return self._send("release", reason=reason)

    def acknowledge_cancellation(self) -> Json:
        return self._send("cancellation-ack")


@dataclass(frozen=True)
class Agent:
    """Who claims: the agent's name, its pool, the job types it runs, its lease length."""

    name: str
    pool: str | None = None
    types: tuple[str, ...] = ()
    lease_seconds: float = 60.0

    def claim_call(self, wait_seconds: int) -> Call:
        return claim_call(self.name, self.pool, self.types, self.lease_seconds, wait_seconds)

    @property
    def heartbeat_every(self) -> float:
        return self.lease_seconds / 3


class Worker:
    """Claims jobs for one agent. ``claim`` gives a ``Job`` to use in a ``with`` block:
    heartbeats run in the background every third of the lease while it is open."""

    def __init__(self, client: JobledgerClient, agent: str | Agent) -> None:
        self.client = client
        self.agent = agent if isinstance(agent, Agent) else Agent(agent)

    def claim(self, wait_seconds: int = 0) -> Job | None:
        """The next job, claimed; None when there was none within ``wait_seconds``."""
        claimed = self.client.send(self.agent.claim_call(wait_seconds))
        if claimed is None:
            return None
        return Job(self.client, Task.of(claimed), self.agent.heartbeat_every)


class AsyncJob:
    """An asyncio handle on a claimed job; heartbeats run as a task while it is open."""

    def __init__(self, client: AsyncJobledgerClient, task: Task, heartbeat_every: float) -> None:
        self.client = client
        self.task = task
        self.every = heartbeat_every
        self._lock = asyncio.Lock()
        self._beats: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncJob:
        self._beats = asyncio.create_task(self._beat())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
        call = self.task.closing(kind, error)
        if call is not None:
            try:
                self.task.take(_must(await self.client.send(call)))
            except (ApiError, Unavailable) as refused:
                log.warning("job %s: closing it failed: %s", self.task.job_id, refused)

    @property
    def cancellation_requested(self) -> bool:
        return self.task.cancellation_requested

    async def send(self, action: str, **fields: Any) -> Json:
        """One worker command (``action`` as in the API: start, progress, usage, ...)."""
        async with self._lock:
            try:
                answer = await self.client.send(
                    command_call(self.task.job_id, action, self.task.lease_id, **fields)
                )
            except ApiError as error:
                raise self.task.refused(error) from None
            return self.task.take(_must(answer))

    async def _beat(self) -> None:
        while not self.task.ended:
            await asyncio.sleep(self.every)
            with contextlib.suppress(ApiError, Unavailable):
                await self.send("heartbeat")


class AsyncWorker:
    def __init__(self, client: AsyncJobledgerClient, agent: str | Agent) -> None:
        self.client = client
        self.agent = agent if isinstance(agent, Agent) else Agent(agent)

    async def claim(self, wait_seconds: int = 0) -> AsyncJob | None:
        claimed = await self.client.send(self.agent.claim_call(wait_seconds))
        if claimed is None:
            return None
        return AsyncJob(self.client, Task.of(claimed), self.agent.heartbeat_every)

    async def jobs(self, wait_seconds: int = 20) -> AsyncIterator[AsyncJob]:
        """Claimed jobs, one after another, for ever."""
        while True:
            job = await self.claim(wait_seconds)
            if job is not None:
                yield job
