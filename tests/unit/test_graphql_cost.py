"""A query's cost: counted by hand here, and refused over the setting before it runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse
from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.adapters.graphql.cost import LIST_ITEMS, cost_of
from jobledger.adapters.graphql.schema import build_schema
from jobledger.adapters.settings import Settings

SCHEMA = build_schema(Settings())


def cost(query: str, **variables: Any) -> int:
    return cost_of(SCHEMA._schema, parse(query), variables)


def test_the_count_of_a_known_query_is_the_hand_count() -> None:
    query = """{ me { subject }
      jobs(first: 20) { totalCount pageInfo { hasNextPage }
        edges { cursor node { id cost { amount currency } history { toStatus at } } } } }"""
    me = 1 + 1
    node = 1 + 1 + (1 + 2) + (1 + LIST_ITEMS * 2)  # node, id, cost {2}, history [10 x 2]
    jobs = 1 + 1 + (1 + 1) + (1 + 20 * (1 + node))  # jobs, totalCount, pageInfo, edges x 20
    assert cost(query) == me + jobs == 2 + 4 + 20 * 27 + 1


def test_aliases_fragments_and_union_members_all_count() -> None:
    page = "jobs(first: 3) { edges { node { id } } }"
    one = cost(f"{{ {page} }}")
    assert cost(f"{{ a: {page} b: {page} }}") == 2 * one
    spread = "query { jobs(first: 3) { edges { node { ...f } } } } fragment f on Job { id }"
    assert cost(spread) == one
    union = '{ job(id: "x") { result { ... on ThreatModellingResult { riskScore threats { name } } } } }'  # noqa: E501
    assert cost(union) == 1 + 1 + (1 + 1 + LIST_ITEMS * 1)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=1, max_value=500))
def test_a_page_costs_in_proportion_to_its_size_given_inline_or_as_a_variable(size: int) -> None:
    per_job = 1 + 1 + 1  # cursor, node, id
    inline = cost(f"{{ jobs(first: {size}) {{ edges {{ cursor node {{ id }} }} }} }}")
    assert inline == 2 + size * per_job
    variable = "query ($n: Int) { jobs(last: $n) { edges { cursor node { id } } } }"
    assert cost(variable, n=size) == inline


def test_no_page_size_counts_the_default_page_and_a_larger_one_counts_the_largest() -> None:
    query = "{ jobs%s { edges { node { id } } } }"
    assert cost(query % "") == cost(query % "(first: 50)")
    assert cost(query % "(first: 100000)") == cost(query % "(first: 500)")


def run(settings: Settings, query: str) -> Any:
    return asyncio.run(build_schema(settings).execute(query))


def test_a_costly_query_is_refused_saying_its_cost_and_the_limit() -> None:
    costly = "{ jobs(first: 500) { edges { node { history { actor at reason trigger event } } } } }"
    result = run(Settings(), costly)
    assert result.data is None
    assert result.errors is not None
    error = result.errors[0]
    assert error.extensions == {
        "code": "query_too_costly",
        "status": 400,
        "cost": cost(costly),
        "limit": 25_000,
    }
    assert "26,002" in error.message
    assert "25,000" in error.message


@pytest.mark.parametrize("limit", [100, 25_000])
def test_a_cheap_query_runs_and_the_limit_is_the_settings(limit: int) -> None:
    cheap = "{ jobs(first: 5) { edges { node { id } } } }"  # 2 + 5 * 2 = 12
    result = run(Settings(graphql_max_cost=limit), cheap)
    # it ran: it reached the resolver, which wants a caller (no request context here)
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] != "query_too_costly"
    refused = run(Settings(graphql_max_cost=100), "{ jobs(first: 60) { edges { node { id } } } }")
    assert refused.errors is not None
    assert refused.errors[0].extensions is not None
    assert refused.errors[0].extensions["limit"] == 100
