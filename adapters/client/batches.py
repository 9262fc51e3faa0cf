"""The requests of batches: several submits, claims, or worker commands, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from jobledger.adapters.client.claims import Agent, Task
from jobledger.adapters.client.core import Call, Json, camel, correlated, new_id, refusal
from jobledger.adapters.client.errors import ApiError
from jobledger.domain.bounds import MAX_COMMAND_BATCH


def submit_many_call(jobs: Sequence[Mapping[str, Any]], correlation_id: str | None = None) -> Call:
    """``POST /v1/jobs/batch``: each job as ``submit``'s fields (snake_case, with
    ``type``), each given an idempotency key unless it names one, so a retry is safe."""
    items = [
        {camel(k): v for k, v in {"idempotency_key": new_id(), **job}.items() if v is not None}
        for job in jobs
    ]
    return Call("POST", "/v1/jobs/batch", {"jobs": items}, headers=correlated(correlation_id))


def claim_many_call(agent: Agent, most: int, wait_seconds: int) -> Call:
    """``POST /v1/claims/batch``: up to ``most`` jobs; its command id makes a retry
    after a lost answer get the same claims back."""
    body: Json = {
        "agent": agent.name,
        "types": list(agent.types),
        "leaseSeconds": agent.lease_seconds,
        "waitSeconds": wait_seconds,
        "max": most,
        "commandId": new_id(),
    }
    if agent.pool is not None:
        body["pool"] = agent.pool
    return Call("POST", "/v1/claims/batch", body, read_timeout=wait_seconds + 15)


class Claimed(Protocol):
    """A claimed job of either flavour: what its commands act under."""

    @property
    def task(self) -> Task: ...


J = TypeVar("J", bound=Claimed)
# A command of a batch: the claimed job, the action, and the action's fields if any.
Command = tuple[J, str] | tuple[J, str, Mapping[str, Any]]


@dataclass(frozen=True)
class Commands(Generic[J]):
    """Worker commands of several jobs on their way: the jobs whose locks to hold while
    they go (in one order, so two batches never wait on each other), and the requests,
    each with the tasks its items' answers apply to."""

    jobs: list[J]
    calls: list[tuple[Call, list[Task]]]

    @classmethod
    def of(cls, commands: Sequence[Command[J]]) -> Commands[J]:
        items = [(c[0], c[1], c[2] if len(c) == 3 else {}) for c in commands]
        jobs = {id(job): job for job, _, _ in items}.values()
        calls = []
        for start in range(0, len(items), MAX_COMMAND_BATCH):
            chunk = items[start : start + MAX_COMMAND_BATCH]
            calls.append((commands_call(chunk), [job.task for job, _, _ in chunk]))
        return cls(sorted(jobs, key=lambda job: job.task.job_id), calls)


def commands_call(items: Sequence[tuple[Claimed, str, Mapping[str, Any]]]) -> Call:
    """``POST /v1/jobs/commands``: each item under its job's lease (and in its workflow),
    with a command id fixed here, so a retry repeats it."""
    body = [
        {
            "jobId": job.task.job_id,
            "action": action,
            **{camel(k): v for k, v in fields.items() if v is not None},
            "leaseId": job.task.lease_id,
            "commandId": new_id(),
        }
        for job, action, fields in items
    ]
    return Call("POST", "/v1/jobs/commands", {"commands": body})


def take_each(tasks: Sequence[Task], answer: Json) -> list[Json | ApiError]:
    """Each item's answer, applied to its own task: where its job stands, or the refusal
    (``LeaseLost`` marks that task's lease lost, and no other)."""
    taken: list[Json | ApiError] = []
    for task, item in zip(tasks, answer["items"], strict=True):
        if item["status"] == 200:
            taken.append(task.take(item["answer"]))
        else:
            problem = {**item["problem"], "status": item["status"]}
            taken.append(task.refused(refusal(item["status"], problem)))
    return taken
