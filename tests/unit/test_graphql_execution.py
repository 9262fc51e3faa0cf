"""The executor's short way for plain fields answers exactly what graphql-core's own way
answers: the same data, and the same errors at the same paths, nulls where none may be
included."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from jobledger.adapters.graphql.execution import LedgerExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Inner:
    count: int
    label: str | None


@strawberry.type
class Outer:
    name: str
    size: int | None
    colour: Colour
    inner: Inner
    maybe: Inner | None
    items: list[Inner]

    @strawberry.field
    async def later(self) -> Inner:
        return self.inner

    @strawberry.field
    def failing(self) -> int | None:
        raise ValueError("no")


VALUES: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    def outers(self) -> list[Outer | None]:
        return [Outer(**fields) for fields in VALUES["outers"]]


def schema(context: type[StrawberryGraphQLCoreExecutionContext]) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=context)


SHORT, LONG = schema(LedgerExecutionContext), schema(StrawberryGraphQLCoreExecutionContext)
QUERY = """{ outers { name size colour failing inner { count label } maybe { count label }
  items { count } later { count label } a: inner { count } } }"""


def answer(of: strawberry.Schema) -> tuple[Any, list[tuple[str, Any]]]:
    result = asyncio.run(of.execute(QUERY))
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


inner = st.builds(
    lambda count, label: Inner(count=count, label=label),  # type: ignore[arg-type]
    st.one_of(st.integers(-5, 5), st.none(), st.just(2**40), st.just("x")),
    st.one_of(st.text(max_size=3), st.none()),
)
outer = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=3), st.none(), st.just(7)),
        "size": st.one_of(st.integers(0, 9), st.none(), st.just(1.5)),
        "colour": st.one_of(st.sampled_from(Colour), st.none(), st.just("green")),
        "inner": st.one_of(inner, st.none()),
        "maybe": st.one_of(inner, st.none()),
        "items": st.lists(inner, max_size=2),
    }
)


@settings(max_examples=60, deadline=None)
@given(outers=st.lists(outer, max_size=3))
def test_the_short_way_answers_what_graphql_core_answers(outers: list[dict[str, Any]]) -> None:
    VALUES["outers"] = outers
    assert answer(SHORT) == answer(LONG)


def test_a_plain_page_is_answered_and_a_null_where_none_may_be_is_an_error() -> None:
    good = Inner(count=1, label=None)
    plain = {"inner": good, "maybe": None, "items": []}
    VALUES["outers"] = [
        {**plain, "name": "a", "size": None, "colour": Colour.RED},
        {**plain, "name": None, "size": 1, "colour": Colour.BLUE},
    ]
    data, errors = answer(SHORT)
    assert data["outers"][0]["colour"] == "RED"
    assert data["outers"][0]["inner"] == {"count": 1, "label": None}
    assert data["outers"][1] is None  # name may not be null: the error nulls the outer
    null = "Cannot return null for non-nullable field Outer.name."
    assert (null, ["outers", 1, "name"]) in errors
