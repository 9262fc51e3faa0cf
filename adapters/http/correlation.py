"""Which workflow a write belongs to: ``X-Correlation-ID``, else W3C ``traceparent``.

An auditor follows one workflow across services by its correlation id, which every
event records. A caller names it with ``X-Correlation-ID`` (checked by the domain's
one rule: a bad one is refused, naming the header) or, failing that, with the trace
id of a W3C ``traceparent``, which is ignored when malformed, as the W3C spec says.
A route decides what a write that names none belongs to (see ``docs/api.md``); the
answer echoes the id in ``X-Correlation-ID``.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import Header, Response

from jobledger.domain.ledger import Ledger
from jobledger.domain.values import check_correlation_id

HEADER = "X-Correlation-ID"
# version-traceid-parentid-flags, lowercase hex; a later version may append fields.
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def trace_id(traceparent: str) -> str | None:
    """The trace id of a valid ``traceparent``; None for one the spec says to ignore."""
    found = TRACEPARENT.fullmatch(traceparent.strip(" \t"))
    if found is None:
        return None
    version, trace, parent, _, rest = found.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace == "0" * 32 or parent == "0" * 16:
        return None
    return trace


# The two headers, read with the caller's token by ``security.AllowedCaller``.
CorrelationHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="the workflow this write belongs to, recorded on its events and "
        "echoed; 1 to 128 letters, digits, '.', '_', ':' or '-'",
    ),
]
TraceparentHeader = Annotated[
    str | None,
    Header(description="W3C trace context: without X-Correlation-ID, its trace id is used"),
]


def named(x_correlation_id: str | None, traceparent: str | None) -> str | None:
    """The correlation id the caller named in these headers, if any."""
    if x_correlation_id is not None:
        return check_correlation_id(x_correlation_id, HEADER)
    if traceparent is not None:
        return trace_id(traceparent)
    return None


def job_workflow(ledger: Ledger, job_id: UUID, tenant: str) -> str:
    """The correlation id ``job_id`` was submitted with: a command on the job that
    names none continues that workflow, so a whole job reads as one."""
    return ledger.workflow(job_id, tenant=tenant)


def echo(response: Response, correlation_id: str) -> str:
    """Say in the answer which workflow the write was recorded under."""
    response.headers[HEADER] = correlation_id
    return correlation_id
