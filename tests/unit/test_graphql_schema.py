"""The GraphQL schema's limits, and its types against the REST models they mirror."""

from __future__ import annotations

import asyncio

from jobledger.adapters.graphql.enums import JobStatus, JobType
from jobledger.adapters.graphql.schema import build_schema
from jobledger.adapters.graphql.types import Job
from jobledger.adapters.http.schemas.jobs import JobEnvelope
from jobledger.adapters.settings import Settings
from jobledger.domain import lifecycle, results


def refusal(settings: Settings, query: str) -> str:
    """The first error of a query the schema refuses before running any resolver."""
    result = asyncio.run(build_schema(settings).execute(query))
    assert result.data is None
    assert result.errors
    return result.errors[0].message


def test_a_query_deeper_than_the_setting_is_refused() -> None:
    deep = "{ jobs { edges { node { history { actor } } } } }"
    assert "exceeds maximum operation depth of 3" in refusal(Settings(graphql_max_depth=3), deep)


def test_introspection_can_be_switched_off() -> None:
    closed = refusal(Settings(graphql_introspection=False), "{ __schema { types { name } } }")
    assert "introspection" in closed.lower()


def test_a_job_has_every_field_of_the_rest_envelope() -> None:
    fields = {f.python_name for f in Job.__strawberry_definition__.fields}
    assert set(JobEnvelope.model_fields) <= fields


def test_the_enums_are_the_domains_own() -> None:
    assert JobStatus is lifecycle.JobStatus
    assert JobType is results.JobType
