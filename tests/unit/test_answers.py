"""A job's answer is built as a plain dict and encoded once; it must be exactly what
its model (the one OpenAPI shows) would answer, for any row the read models hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_core import to_json

from jobledger.adapters.http.envelope import Submission, envelope_of, summary_of
from jobledger.adapters.http.schemas.jobs import JobEnvelope, JobSummary
from jobledger.domain.lifecycle import JobStatus

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
money = st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False)
counts = st.integers(min_value=0, max_value=2**40)
text = st.text(max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)
rows = st.fixed_dictionaries(
    {
        "job_id": st.builds(lambda: str(uuid4())),
        "tenant": text,
        "investigation_id": st.none() | text,
        "job_type": text,
        "status": st.sampled_from([s.value for s in JobStatus]),
        "progress": st.integers(0, 100),
        "attempt": st.integers(1, 10),
        "max_attempts": st.integers(1, 10),
        "priority": st.integers(0, 9),
        "created_by": text,
        "agent": st.none() | text,
        "lease_expires_at": st.none() | moments,
        "not_before": st.none() | moments,
        "pool": st.none() | text,
        "cancellation_requested": st.booleans(),
        "created_at": moments,
        "claimed_at": st.none() | moments,
        "started_at": st.none() | moments,
        "finished_at": st.none() | moments,
        "input_tokens": counts,
        "output_tokens": counts,
        "cached_input_tokens": counts,
        "cost": money,
        "projected_cost": st.none() | money,
        "error_code": st.none() | text,
        "error_message": st.none() | text,
        "entities": counts,
        "relationships": counts,
        "anomalies": counts,
        "predictions": counts,
        "estimated_completion_at": st.none() | moments,
        "last_event_at": moments,
        "version": st.integers(1, 10**6),
    }
)
submissions = st.none() | st.builds(
    Submission,
    inputs=st.lists(
        st.fixed_dictionaries(
            {"name": text, "media_type": text, "size_bytes": counts},
            optional={"uri": text},
        ),
        max_size=3,
    ),
    config=st.dictionaries(text, json_values, max_size=3),
    metadata=st.dictionaries(text, json_values, max_size=3),
)


def _as_the_model_answers(model: type[BaseModel], answer: dict[str, Any]) -> bytes:
    """What FastAPI answered when routes returned models: validated, then serialised."""
    return model.model_validate(answer).model_dump_json(by_alias=True).encode()


@given(row=rows, submission=submissions, result=st.dictionaries(text, json_values, max_size=3))
def test_an_envelope_is_byte_for_byte_what_its_model_answers(
    row: dict[str, Any], submission: Submission | None, result: dict[str, Any]
) -> None:
    answer = envelope_of(row, "EUR", result=result, submission=submission)
    assert to_json(answer) == _as_the_model_answers(JobEnvelope, answer)


@given(row=rows)
def test_a_summary_is_byte_for_byte_what_its_model_answers(row: dict[str, Any]) -> None:
    answer = summary_of(row, "USD")
    assert to_json(answer) == _as_the_model_answers(JobSummary, answer)


def test_an_answer_keeps_the_contracts_json_types() -> None:
    """camelCase names, ISO 8601 UTC times, money as decimal text, huge numbers whole."""
    row: dict[str, Any] = {
        "job_id": str(uuid4()),
        "tenant": "acme",
        "investigation_id": None,
        "job_type": "entity_extraction",
        "status": "completed",
        "progress": 100,
        "attempt": 1,
        "max_attempts": 3,
        "priority": 5,
        "created_by": "ana",
        "agent": "w1",
        "lease_expires_at": None,
        "not_before": None,
        "pool": None,
        "cancellation_requested": False,
        "created_at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
        "claimed_at": datetime(2026, 11, 22, 9, 31, tzinfo=UTC),
        "started_at": datetime(2026, 11, 22, 9, 31, 0, 250000, tzinfo=UTC),
        "finished_at": datetime(2026, 11, 22, 9, 32, tzinfo=UTC),
        "input_tokens": 1200,
        "output_tokens": 300,
        "cached_input_tokens": 0,
        "cost": Decimal("0.00412500"),
        "projected_cost": None,
        "error_code": None,
        "error_message": None,
        "entities": 3,
        "relationships": 0,
        "anomalies": 0,
        "predictions": 0,
        "estimated_completion_at": None,
        "last_event_at": datetime(2026, 11, 22, 9, 32, tzinfo=UTC),
        "version": 7,
    }
    result = {"entities": 3, "checksum": 2**70}
    answer = json.loads(to_json(envelope_of(row, "USD", result=result, submission=None)))
    assert answer["createdAt"] == "2026-11-22T09:30:00Z"
    assert answer["startedAt"] == "2026-11-22T09:31:00.250000Z"
    assert answer["cost"] == {"amount": "0.00412500", "currency": "USD"}
    assert answer["tokens"] == {"input": 1200, "output": 300, "cachedInput": 0}
    assert answer["result"] == {"entities": 3, "checksum": 2**70}
    assert answer["processingTimeMs"] == 60_000  # first claim to finish
    assert (answer["inputs"], answer["config"], answer["metadata"]) == (None, None, None)
