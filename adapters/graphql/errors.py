"""GraphQL errors carry REST's problem codes in ``extensions``: ``code`` (``job_not_found``,
``forbidden``, ``invalid_request``...) and ``status`` (the HTTP status REST would answer).

A domain error keeps its message; anything unexpected is masked (logged, not shown). A
query refused before it ran (syntax, unknown field, too deep, too long) has code
``invalid_query``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from graphql.error import GraphQLError

from jobledger.adapters.http.problems import PreconditionFailed, status_of
from jobledger.adapters.store import backends
from jobledger.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobLedgerError,
)

log = logging.getLogger("jobledger.graphql")
UNEXPECTED = "an unexpected error; it was logged"


class InvalidInput(InvalidCommand):
    """An argument or input object out of its bounds (REST's 422 ``invalid_request``)."""

    code = "invalid_request"


@functools.cache
def _busy_errors() -> tuple[type[BaseException], ...]:
    return (OperationalError, InterfaceError, *(e for b in backends() for e in b.busy_errors))


def coded(error: GraphQLError) -> None:
    """Give ``error`` its REST problem code (in place: Strawberry hands every error of every
    path, the parser's included, to ``Schema.process_errors``, which calls this)."""
    if error.extensions and "code" in error.extensions:
        return
    original = error.original_error
    if original is None:
        _add(error, code="invalid_query", status=400)
    elif isinstance(original, JobLedgerError):
        _add(error, code=original.code, status=status_of(original), **_extra(original))
    elif isinstance(original, _busy_errors()):
        error.message = "the store is busy or unreachable; nothing was changed, try again"
        _add(error, code="store_unavailable", status=503)
    elif isinstance(original, GraphQLError):  # e.g. a value a scalar refused
        _add(error, code="invalid_request", status=422)
    else:
        log.error("unexpected error in GraphQL %s", error.path, exc_info=original)
        error.message = UNEXPECTED
        _add(error, code="internal_error", status=500)


def _add(error: GraphQLError, **extensions: Any) -> None:
    error.extensions = {**(error.extensions or {}), **extensions}


def _extra(error: JobLedgerError) -> dict[str, Any]:
    """What REST's problem adds beside the code, under the same names."""
    if isinstance(error, IllegalTransition):
        return {"currentState": error.current_state, "allowedTriggers": list(error.allowed)}
    if isinstance(error, PreconditionFailed):
        return {"currentVersion": error.current_version}
    if isinstance(error, ConcurrencyConflict) and error.actual is not None:
        return {"currentVersion": error.actual}
    return {}
