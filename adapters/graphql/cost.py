"""A query's cost, counted from its document before anything runs, and refused over a limit
(``JOBLEDGER_GRAPHQL_MAX_COST``): depth and length alone let a short query ask for a page
of 500 jobs with every job's history, aliased a dozen times.

The count: each field selected costs 1, and what is selected under a list once per item.
The list right beneath a field given ``first`` or ``last`` (``jobs``' ``edges``) has the
page size the query asks for (the default page when it gives none); any other list (a
job's history, events) is counted as ``LIST_ITEMS`` long. Every member of a union counts.
The count is the fields the executor would resolve at most: what a query's time grows with.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    parse,
)
from strawberry.extensions import SchemaExtension

from jobledger.adapters.graphql.connection import DEFAULT_PAGE
from jobledger.adapters.store.sql.read_store import PageSize

LIST_ITEMS = 10  # a job's history or events: a guess at their length, since none is asked
PAGED = ("first", "last")
LARGEST_PAGE: int = next(
    c.le for m in get_args(PageSize)[1:] for c in m.metadata if hasattr(c, "le")
)


class TooCostly(GraphQLError):
    def __init__(self, cost: int, limit: int) -> None:
        super().__init__(
            f"the query's cost is {cost:,}, over the limit of {limit:,}: ask for smaller"
            " pages (first/last) or fewer fields",
            extensions={"code": "query_too_costly", "status": 400, "cost": cost, "limit": limit},
        )


class Costs:
    """The count over one document, given its fragments and the request's variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables or {}

    def of(self, selections: SelectionSetNode | None, parent: Any, page: int | None = None) -> int:
        """``page``: the items of a list right beneath (a connection's ``edges``)."""
        return sum(self._field(node, kind, page) for node, kind in self._fields(selections, parent))

    def _fields(
        self, selections: SelectionSetNode | None, parent: Any, seen: frozenset[str] = frozenset()
    ) -> Iterator[tuple[FieldNode, Any]]:
        """The fields of a selection set, each with the type it is a field of: a fragment's
        own type (a union's member) when it names one; each named fragment spread once."""
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                yield node, parent
            elif isinstance(node, InlineFragmentNode):
                yield from self._fields(node.selection_set, self._on(node, parent), seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    inside = self._on(fragment, parent)
                    yield from self._fields(
                        fragment.selection_set, inside, seen | {node.name.value}
                    )

    def _on(self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Any) -> Any:
        condition = node.type_condition
        return parent if condition is None else self.schema.get_type(condition.name.value)

    def _field(self, node: FieldNode, parent: Any, page: int | None) -> int:
        if node.selection_set is None:
            return 1
        definition = (getattr(parent, "fields", None) or {}).get(node.name.value)
        field_type = definition.type if definition else None
        items = 1
        if isinstance(get_nullable_type(field_type), GraphQLList):
            items = LIST_ITEMS if page is None else page
        inner = get_named_type(field_type) if field_type else None
        return 1 + items * self.of(node.selection_set, inner, self._page(node, definition))

    def _page(self, node: FieldNode, definition: GraphQLField | None) -> int | None:
        """The page size a paged field (one taking ``first``/``last``) asks for, within the
        largest page: a larger one is refused, naming the argument, when the query runs."""
        if definition is None or not any(name in definition.args for name in PAGED):
            return None
        sizes: list[Any] = []
        for argument in node.arguments or ():
            value: Any = argument.value
            if argument.name.value not in PAGED:
                continue
            if isinstance(value, IntValueNode):
                sizes.append(int(value.value))
            elif isinstance(value, VariableNode):
                sizes.append(self.variables.get(value.name.value))
        found = [s for s in sizes if type(s) is int] or [DEFAULT_PAGE]
        return max(1, min(LARGEST_PAGE, max(found)))


def cost_of(
    schema: GraphQLSchema,
    document: Any,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of the operation a request runs (its name, or the document's only one)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    costs = Costs(schema, fragments, variables)
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (
            definition.name is None or definition.name.value != operation_name
        ):
            continue
        root = schema.get_root_type(definition.operation)
        total = max(total, costs.of(definition.selection_set, root))
    return total


@functools.lru_cache(maxsize=1_000)
def _cached(
    schema: GraphQLSchema, query: str, operation_name: str | None, ints: tuple[Any, ...]
) -> int:
    """Per document text and integer variables (only a page size changes the count): a
    client sends the same few documents again and again."""
    return cost_of(schema, parse(query), dict(ints), operation_name)


class CostLimiter(SchemaExtension):
    """Refuses an operation over ``limit`` after validation, before its first resolver."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.result is None:
            ints = tuple(
                (name, value)
                for name, value in (context.variables or {}).items()
                if type(value) is int
            )
            cost = _cached(context.schema._schema, context.query, context.operation_name, ints)
            if cost > self.limit:
                context.result = ExecutionResult(data=None, errors=[TooCostly(cost, self.limit)])
        yield
