"""The client's public methods, written once for both flavours.

Each method builds its request and hands it to one abstract method; the blocking
flavour's returns the answer, the asyncio flavour's an awaitable of it (``R``). So
``ClaimedJob.start()`` and ``AsyncClaimedJob.start()`` are one method, and a
method added here exists in both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from jobledger.adapters.client.batches import submit_many_call
from jobledger.adapters.client.claims import Task
from jobledger.adapters.client.core import (
    Call,
    cancel_call,
    get_call,
    report_call,
    submit_call,
)

R = TypeVar("R")  # the answer (Json), or for asyncio a coroutine that gives it


class JobRequests(ABC, Generic[R]):
    """What an analyst's client asks of the jobs API."""

    @abstractmethod
    def _answer(self, call: Call) -> R:
        """``call`` sent, retried after transient failures; its answer must have a body."""

    def submit(
        self,
        job_type: str,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        **fields: Any,
    ) -> R:
        """Submit a job (fields as in ``POST /v1/jobs``, snake_case); the envelope.
        ``correlation_id`` names the workflow it belongs to (``X-Correlation-ID``)."""
        return self._answer(submit_call(job_type, idempotency_key, correlation_id, **fields))

    def submit_many(
        self, jobs: Sequence[Mapping[str, Any]], *, correlation_id: str | None = None
    ) -> R:
        """Submit several jobs (each as ``submit``'s fields, with ``type``) in one
        request; the answer's ``items`` say per job: 202 and its id, or its problem."""
        return self._answer(submit_many_call(jobs, correlation_id))

    def get(self, job_id: str) -> R:
        return self._answer(get_call(job_id))

    def cancel(self, job_id: str, reason: str = "", *, correlation_id: str | None = None) -> R:
        return self._answer(cancel_call(job_id, reason, correlation_id))

    def report(self, job_id: str, *, wait_seconds: int | None = None) -> R:
        """The analysis report; with ``wait_seconds`` (10-300), held until the job is final."""
        return self._answer(report_call(job_id, wait_seconds))


class JobCommands(ABC, Generic[R]):
    """The worker commands on a job claimed under a lease: each is one ``send``."""

    task: Task

    @abstractmethod
    def send(self, action: str, **fields: Any) -> R:
        """One worker command (``action`` as in the API: start, progress, usage, ...),
        under the lease and in the job's workflow; a refusal that means the lease is gone
        raises ``LeaseLost``."""

    @property
    def cancellation_requested(self) -> bool:
        return self.task.cancellation_requested

    def start(self) -> R:
        return self.send("start")

    def progress(self, percent: int, message: str | None = None) -> R:
        return self.send("progress", percent=percent, message=message)

    def findings(self, **counts: int) -> R:
        return self.send("findings", **counts)

    def usage(
        self,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
    ) -> R:
        return self.send(
            "usage",
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
        )

    def steps(self, steps: Sequence[Mapping[str, Any]]) -> R:
        """Append the agent's steps, one or a batch (fields as in ``docs/steps.md``, camelCase
        or snake_case): recorded whole, once, in the order given."""
        return self.send("steps", steps=[dict(step) for step in steps])

    def heartbeat(self) -> R:
        return self.send("heartbeat")

    def validation(self) -> R:
        return self.send("validation")

    def upload(self) -> R:
        return self.send("upload")

    def complete(self, result: dict[str, Any]) -> R:
        return self.send("complete", result=result)

    def fail(self, code: str, message: str = "", *, retryable: bool = False) -> R:
        return self.send("fail", code=code, message=message, retryable=retryable)

    def release(self, reason: str = "") -> R:
        return self.send("release", reason=reason)

    def acknowledge_cancellation(self) -> R:
        return self.send("cancellation-ack")
