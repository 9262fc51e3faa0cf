"""Schemathesis against /graphql (it reads the schema by introspection): every query and
mutation, with generated arguments, is answered without a server error: no 5xx, and no
GraphQL error whose ``extensions.status`` is 5xx. (Schemathesis's own check counts every
resolver error as the server's; here a refused argument is a 4xx code by design.)

It found one already: introspecting ``SubmitJobInput`` failed, as GraphQL cannot print
the ``{}`` default the REST body gives ``config`` and ``metadata``.
"""

from __future__ import annotations

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case
from schemathesis.core.result import Ok

from tests.api.conftest import Api

pytestmark = pytest.mark.rules  # the API's answers, not the store's: SQLite only
MAX_EXAMPLES = 10
ROLES = ["analyst", "viewer", "admin", "auditor"]


def _text(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    return values.map(lambda v: graphql.StringValueNode(value=v))


schemathesis.graphql.scalar("UUID", _text(st.uuids().map(str)))
schemathesis.graphql.scalar("DateTime", _text(st.datetimes().map(lambda d: d.isoformat() + "Z")))
schemathesis.graphql.scalar("Date", _text(st.dates().map(str)))
schemathesis.graphql.scalar("JSON", _text(st.text(max_size=5)))


def bearer(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token(ROLES, tenant='acme', sub='fuzz@acme')}"}


@pytest.fixture(scope="module")
def graphql_schema(api: Api) -> BaseSchema:
    return schemathesis.graphql.from_url(f"{api.url}/graphql", headers=bearer(api))


@pytest.mark.slow
def test_no_generated_query_or_mutation_is_a_server_error(
    api: Api, graphql_schema: BaseSchema, subtests: pytest.Subtests
) -> None:
    headers = bearer(api)
    operations = [r.ok() for r in graphql_schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) == 7, [operation.label for operation in operations]
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def answers(case: Case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, response.text
            for error in response.json().get("errors") or []:
                assert error["extensions"]["status"] < 500, error

        with subtests.test(msg=operation.label):
            answers()
