"""GraphQL errors carry REST's problem codes in ``extensions``: ``code`` (``job_not_found``,
``forbidden``, ``invalid_request``...) and ``status`` (the HTTP status REST would answer).

A domain error keeps its message; anything unexpected is masked (logged, not shown). A
query refused before it ran (syntax, unknown field, too deep, too long) has code
``invalid_query``.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from jobledger.adapters.http.problems import PreconditionFailed, status_of
from jobledger.adapters.store import backends
from jobledger.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobLedgerError,
)

log = logging.getLogger("jobledger.graphql")


class InvalidInput(InvalidCommand):
    """An argument or input object out of its bounds (REST's 422 ``invalid_request``)."""

    code = "invalid_request"


def _busy_errors() -> tuple[type[BaseException], ...]:
    return (OperationalError, InterfaceError, *(e for b in backends() for e in b.busy_errors))


class ProblemCodes(MaskErrors):
    def __init__(self) -> None:
        super().__init__(error_message="an unexpected error; it was logged")
        self.busy = _busy_errors()

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._coded(error) for error in errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None:
            return _with(error, code="invalid_query", status=400)
        if isinstance(original, JobLedgerError):
            return _with(error, code=original.code, status=status_of(original), **_extra(original))
        if isinstance(original, self.busy):
            busy = self.anonymise_error(error)
            busy.message = "the store is busy or unreachable; nothing was changed, try again"
            return _with(busy, code="store_unavailable", status=503)
        if isinstance(original, GraphQLError):  # e.g. a value a scalar refused
            return _with(error, code="invalid_request", status=422)
        log.error("unexpected error in GraphQL %s", error.path, exc_info=original)
        return _with(self.anonymise_error(error), code="internal_error", status=500)


def _with(error: GraphQLError, **extensions: Any) -> GraphQLError:
    error.extensions = {**(error.extensions or {}), **extensions}
    return error


def _extra(error: JobLedgerError) -> dict[str, Any]:
    """What REST's problem adds beside the code, under the same names."""
    if isinstance(error, IllegalTransition):
        return {"currentState": error.current_state, "allowedTriggers": list(error.allowed)}
    if isinstance(error, PreconditionFailed):
        return {"currentVersion": error.current_version}
    if isinstance(error, ConcurrencyConflict) and error.actual is not None:
        return {"currentVersion": error.actual}
    return {}
