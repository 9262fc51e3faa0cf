"""What the blocking and the asyncio clients share: each request described once, how an
answer is read, when a failure is worth retrying, and how waiting on a job proceeds.

The two flavours only send: ``Call.build`` gives the request for either httpx client.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx

from jobledger.adapters.client.errors import ApiError, LeaseLost, Unavailable
from jobledger.domain.lifecycle import TERMINAL

Json = dict[str, Any]
TRANSIENT_STATUSES = frozenset({502, 503, 504})
CORRELATION_HEADER = "X-Correlation-ID"


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


RETRYING = Backoff()  # a failed call's tries
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


# -- answers and retries -----------------------------------------------------------


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
    raise refusal(response.status_code, problem)


def refusal(status: int, problem: Json) -> ApiError:
    """The error a problem stands for: ``LeaseLost`` when the lease is gone."""
    if problem.get("code") == "lease_mismatch":
        return LeaseLost(status, problem)
    return ApiError(status, problem)


def must(answer: Json | None) -> Json:
    """An answer that has to have a body."""
    if answer is None:
        raise ApiError(204, {"detail": "the server answered with no content"})
    return answer


def transient(error: Exception) -> bool:
    """Worth another try: the network failed, or a proxy or a busy server said so."""
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, ApiError) and error.status in TRANSIENT_STATUSES


def final(error: Exception) -> Exception:
    """What the caller sees once retrying is over."""
    if isinstance(error, httpx.TransportError):
        return Unavailable(f"jobledger is unreachable: {error!r}")
    return error


# -- the requests ------------------------------------------------------------------


def submit_call(
    job_type: str,
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
    **fields: Any,
) -> Call:
    body = {"type": job_type, **{camel(k): v for k, v in fields.items() if v is not None}}
    headers = {"Idempotency-Key": idempotency_key or new_id(), **correlated(correlation_id)}
    return Call("POST", "/v1/jobs", body, headers=headers)


def get_call(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}")


def cancel_call(job_id: str, reason: str, correlation_id: str | None = None) -> Call:
    body = {"reason": reason}
    return Call("POST", f"/v1/jobs/{job_id}/cancel", body, headers=correlated(correlation_id))


def report_call(job_id: str, wait_seconds: int | None) -> Call:
    if wait_seconds is None:
        return Call("GET", f"/v1/jobs/{job_id}/report")
    params = {"waitForReport": "true", "timeoutSeconds": str(wait_seconds)}
    return Call("GET", f"/v1/jobs/{job_id}/report", params=params, read_timeout=wait_seconds + 15)


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
    body["commandId"] = new_id()  # a retry after a lost answer gets the same claim back
    return Call("POST", "/v1/claims", body, read_timeout=wait_seconds + 15)


def command_call(
    job_id: str, action: str, lease_id: str, correlation_id: str | None = None, **fields: Any
) -> Call:
    body = {camel(k): v for k, v in fields.items() if v is not None}
    body.update(leaseId=lease_id, commandId=new_id())  # fixed here: every retry repeats it
    return Call("POST", f"/v1/jobs/{job_id}/{action}", body, headers=correlated(correlation_id))


def correlated(correlation_id: str | None) -> dict[str, str]:
    """The header naming the workflow a write belongs to, when there is one to name."""
    return {} if correlation_id is None else {CORRELATION_HEADER: correlation_id}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def new_id() -> str:
    return uuid4().hex


# -- waiting -----------------------------------------------------------------------


@dataclass
class Waiting:
    """How ``wait`` goes, in either flavour: long polls until a proxy or a busy server
    cuts one, then polls after a growing pause, until the job ends or time is up."""

    job_id: str
    deadline: float
    long_polls: bool = True
    pauses: Iterator[float] = field(default_factory=POLLING.delays)

    def call(self, now: float) -> Call:
        if self.long_polls:
            return wait_call(self.job_id, self.deadline - now)
        return get_call(self.job_id)

    def failed(self, error: Exception) -> None:
        """A try that failed: a transient failure turns to polling, any other is raised."""
        if not transient(error):
            raise final(error) from error
        self.long_polls = False

    def ended(self, job: Json, now: float) -> bool:
        return job["status"] in TERMINAL or now >= self.deadline

    def pause(self, now: float) -> float:
        if self.long_polls:
            return 0.0
        return max(0.0, min(next(self.pauses, POLLING.longest), self.deadline - now))
