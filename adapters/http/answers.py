"""Answers encoded once, straight to JSON bytes.

A route that returns a model has FastAPI validate it again, then serialise it; an
answer built from the ledger's own data (see ``envelope``) needs neither. It is encoded
with pydantic's serialiser, the one FastAPI would use, so the bytes are the same. The
route's ``response_model`` still describes the answer in OpenAPI.
"""

from __future__ import annotations

from fastapi import Response
from pydantic_core import to_json

MEDIA_TYPE = "application/json"


def json_answer(body: object, response: Response, status_code: int = 200) -> Response:
    """``body`` as the answer, with the status (else ``status_code``) and headers the
    route set on the ``Response`` FastAPI handed it."""
    answer = Response(
        to_json(body), status_code=response.status_code or status_code, media_type=MEDIA_TYPE
    )
    answer.headers.raw.extend(response.headers.raw)
    return answer


def blank_response() -> Response:
    """What FastAPI hands a route that takes a ``Response``: no status, no headers yet."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response
