"""What the client raises: a refusal by the server, a lost lease, an unreachable server."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The server refused a request; ``problem`` is its application/problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class LeaseLost(ApiError):
    """The lease is no longer this worker's (it ran out, or the job moved on): stop."""


class Unavailable(Exception):
    """The server could not be reached, or stayed busy, through every retry."""
