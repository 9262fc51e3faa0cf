"""Every error as RFC 9457 ``application/problem+json``, with a precise ``detail``.

Domain errors map to statuses once, here. A refused request changes nothing:
commands validate before they record, and a failed save records nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jobledger.adapters.auth.tokens import Forbidden, MissingToken, Unauthenticated
from jobledger.adapters.http.schemas.jobs import Problem
from jobledger.adapters.store import backends
from jobledger.domain.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidCommand,
    JobLedgerError,
    JobNotFound,
    LeaseMismatch,
    NotNamedWorker,
    RetryNotDue,
    StoreUnavailable,
    TooLarge,
)

log = logging.getLogger("jobledger.http")
MEDIA_TYPE = "application/problem+json"
WWW_AUTHENTICATE = 'Bearer realm="jobledger"'


class PreconditionFailed(JobLedgerError):
    """``If-Match`` names no version the job is at (HTTP 412)."""

    code = "precondition_failed"

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class CheckpointNotFound(JobLedgerError):
    """No checkpoint of the log has that size (HTTP 404)."""

    code = "checkpoint_not_found"


STATUSES: dict[type[JobLedgerError], int] = {
    Unauthenticated: 401,
    CheckpointNotFound: 404,
    Forbidden: 403,
    NotNamedWorker: 403,
    JobNotFound: 404,
    IllegalTransition: 409,
    LeaseMismatch: 409,
    RetryNotDue: 409,
    IdempotencyConflict: 409,
    ConcurrencyConflict: 412,
    PreconditionFailed: 412,
    TooLarge: 413,
    InvalidCommand: 422,
    ConfigurationError: 500,
    StoreUnavailable: 503,
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


def problem(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(
        type=f"urn:jobledger:problem:{code}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=encodable(detail),
        instance=None if instance is None else encodable(instance),
        code=code,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


def encodable(text: str) -> str:
    """Callers' text echoed back (a field name, a value) may hold lone surrogates,
    which UTF-8 cannot carry: escape them."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def status_of(error: JobLedgerError) -> int:
    if isinstance(error, ConcurrencyConflict) and error.expected is None:
        return 409  # lost a race it retried: not a precondition the caller stated
    for kind in type(error).__mro__:
        if kind in STATUSES:
            return STATUSES[kind]
    return 500


def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, JobLedgerError)
    status = status_of(error)
    extra = facts(error)
    headers = None
    if isinstance(error, MissingToken):
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
    elif isinstance(error, Unauthenticated):
        headers = {
            "WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token", '
            f'error_description="{_header_safe(str(error))}"'
        }
    if status == 500:
        log.error("server misconfigured: %s", error)
    return problem(status, error.code, str(error), request.url.path, headers, **extra)


def facts(error: JobLedgerError) -> dict[str, Any]:
    """What a problem says beyond its detail, by kind (the job's state, its version...),
    for a request's problem and for a batch item's alike."""
    extra: dict[str, Any] = {}
    if isinstance(error, IllegalTransition):
        extra = {"currentState": error.current_state, "allowedTriggers": list(error.allowed)}
    elif isinstance(error, LeaseMismatch):
        extra = {"currentState": error.current_state, "leaseState": error.lease_state}
        if error.lease_expires_at is not None:
            extra["leaseExpiresAt"] = error.lease_expires_at.isoformat()
    elif isinstance(error, RetryNotDue):
        extra = {"notBefore": error.not_before.isoformat()}
    elif isinstance(error, ConcurrencyConflict) and error.actual is not None:
        extra = {"currentVersion": error.actual}
    elif isinstance(error, PreconditionFailed):
        extra = {"currentVersion": error.current_version}
    return extra


def _header_safe(text: str) -> str:
    """A token's header is the caller's text: only printable ASCII, no quotes, may go back."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)[:200]


def _store_busy(request: Request, error: Exception) -> JSONResponse:
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, error)
    detail = "the store is busy or unreachable; nothing was changed, try again"
    return problem(503, "store_unavailable", detail, request.url.path, {"Retry-After": "1"})


def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    if any(item.get("type") == "json_invalid" for item in found):
        reason = next(i for i in found if i.get("type") == "json_invalid").get("ctx", {})
        detail = f"the body is not valid JSON: {reason.get('error', 'malformed')}"
        return problem(400, "malformed_json", detail, request.url.path)
    fields = [
        {
            "field": encodable(".".join(str(p) for p in item["loc"])),
            "message": encodable(item["msg"]),
        }
        for item in found
    ]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return problem(422, "invalid_request", detail, request.url.path, errors=fields)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = {
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
    }.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    return problem(error.status_code, code, str(error.detail), request.url.path, headers)


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(500, "internal_error", "an unexpected error; it was logged", request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(JobLedgerError, _domain_error)
    app.add_exception_handler(OperationalError, _store_busy)
    app.add_exception_handler(InterfaceError, _store_busy)
    for backend in backends():  # each store's own way of saying it is busy or away
        for busy in backend.busy_errors:
            app.add_exception_handler(busy, _store_busy)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer with."""
    return {
        status: {
            "description": TITLES[status],
            "content": {MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
        }
        for status in statuses
    }
