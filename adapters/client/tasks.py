"""A named worker's side of jobs of tasks, for the synchronous client.

The worker is its token's subject (role ``analyzer``). ``claim`` takes the oldest task
named for it; each update carries the claim's lease and a command id fixed when the
call is built, so the client's retries after a lost answer record nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobledger.adapters.client.core import Call, Json, correlated, must, new_id
from jobledger.adapters.client.sync import JobledgerClient


@dataclass
class ClaimedTask:
    client: JobledgerClient
    job_id: str
    task_id: str
    lease_id: str
    subject: str
    correlation_id: str | None
    state: str = "executing"

    def renew(self) -> Json:
        """Renew the lease (the task keeps executing)."""
        return self._update({"state": "executing"})

    def succeed(self, score: int, analyses: Sequence[str] = ()) -> Json:
        """Final: a score from 0 to 100, or -1 for an uncertain result."""
        return self._update({"state": "successful", "score": score, "analyses": list(analyses)})

    def fail(self, code: str, message: str = "") -> Json:
        return self._update({"state": "failed", "error": {"code": code, "message": message}})

    def _update(self, fields: dict[str, Any]) -> Json:
        body = {**fields, "leaseId": self.lease_id, "commandId": new_id()}
        path = f"/v1/jobs/{self.job_id}/tasks/{self.task_id}"
        answer = must(
            self.client.send(Call("PUT", path, body, headers=correlated(self.correlation_id)))
        )
        self.state = answer["task"]["state"]
        return answer


class TaskWorker:
    def __init__(self, client: JobledgerClient, lease_seconds: float = 60.0) -> None:
        self.client = client
        self.lease_seconds = lease_seconds

    def claim(self) -> ClaimedTask | None:
        """The oldest task named for this worker, or None when there is none."""
        body = {"leaseSeconds": self.lease_seconds, "commandId": new_id()}
        claimed = self.client.send(Call("POST", "/v1/claims/tasks", body))
        if claimed is None:
            return None
        task = claimed["task"]
        return ClaimedTask(
            self.client,
            job_id=task["jobId"],
            task_id=task["taskId"],
            lease_id=claimed["leaseId"],
            subject=task["subject"],
            correlation_id=claimed.get("correlationId"),
        )
