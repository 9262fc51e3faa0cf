"""A shorter way through graphql-core's executor for the fields that are most of a page: a
plain attribute of a scalar or enum type (a job's ``status``, ``createdAt``...).

graphql-core treats every field alike: a path, a resolve-info object, an argument check,
two awaitable checks and the completion's type dispatch, about 10 us a field, or 20 ms
for a page of 50 jobs of 35 fields. A field Strawberry resolves by reading an attribute
(no resolver, no permission class: its ``is_basic_field``) of a leaf type, with no
arguments, needs none of that: its attribute is read and serialised as the executor
would. Anything unusual (a null where none may be, a value the scalar refuses, an error)
takes graphql-core's own way, which makes the same value or the same error; every other
field (resolvers, permission classes, objects, lists) always takes it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, Undefined, is_leaf_type
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# A field's short way: a function of its parent that reads the attribute, its type's
# serialiser (None for an object type), whether it may be null, and its GraphQL type;
# None for a field that takes the executor's way.
Plan = tuple[Callable[[Any], Any], Callable[[Any], Any] | None, bool, Any] | None
# Per object type (held, so that its id is not reused): its fields' plans by name.
_TABLES: dict[int, tuple[GraphQLObjectType, dict[str, Plan]]] = {}


def plans(parent_type: GraphQLObjectType) -> dict[str, Plan]:
    known = _TABLES.get(id(parent_type))
    if known is None or known[0] is not parent_type:
        known = _TABLES[id(parent_type)] = (parent_type, {})
    return known[1]


def plan(field: GraphQLField | None) -> Plan:
    """The short way for ``field``, if it has one."""
    if field is None:
        return None
    kind, nullable = field.type, True
    if isinstance(kind, GraphQLNonNull):
        kind, nullable = kind.of_type, False
    defined = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    basic = getattr(field.resolve, "_is_default", False)  # Strawberry's mark of a plain field
    if not (basic and defined is not None and not field.args):
        return None
    read: Callable[[Any], Any] = operator.attrgetter(defined.python_name)
    if defined.default_resolver is not getattr:
        read = _reader(defined.default_resolver, defined.python_name)
    if is_leaf_type(kind):
        return (read, kind.coerce_output_value, nullable, field.type)
    if isinstance(kind, GraphQLObjectType):
        return (read, None, nullable, field.type)
    return None


def _reader(resolver: Callable[[Any, str], Any], name: str) -> Callable[[Any], Any]:
    return lambda source: resolver(source, name)


class LedgerExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager  # an extension that wraps every resolver
        self.short_ways = manager is None or not manager.middlewares

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but a plain leaf field takes the short way (and no path)."""
        if not self.short_ways:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaiting: list[str] = []
        table = plans(parent_type)
        try:
            for response_name, field_details_list in grouped_field_set.items():
                name = field_details_list[0].node.name.value
                if name in table:
                    short = table[name]
                else:
                    short = table[name] = plan(self.schema.get_field(parent_type, name))
                if short is not None:  # the attribute, serialised, unless it is unusual
                    read, serialise, nullable, kind = short
                    try:
                        value = read(source_value)
                        if value is None:
                            value = None if nullable else Undefined
                        elif serialise is not None:  # a scalar that makes None refused it
                            value = serialise(value)
                            value = Undefined if value is None else value
                    except Exception:  # the executor's way makes the error
                        value = Undefined
                    if serialise is None and value is not None and value is not Undefined:
                        value = self.object_of(
                            field_details_list,
                            Path(path, response_name, parent_type.name),
                            value,
                            kind,
                            position_context,
                        )
                    if value is not Undefined:
                        results[response_name] = value
                        if serialise is None and is_awaitable(value):
                            awaiting.append(response_name)
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaiting.append(response_name)
        except Exception:
            if awaiting:  # settle what other fields started: they may fail too
                self.settle_in_background([results[name] for name in awaiting])
            raise
        if not awaiting:
            return results
        return _awaited(results, awaiting)

    def object_of(
        self,
        field_details_list: Any,
        path: Path,
        value: Any,
        kind: Any,
        position_context: Any,
    ) -> Any:
        """An object field's value, completed as ``execute_field`` completes it (an error
        beneath is this field's error); Undefined when it must take the executor's way."""
        object_type = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if object_type.is_type_of is not None:
            try:
                if object_type.is_type_of(value, None) is not True:
                    return Undefined
            except Exception:  # the executor's way makes the error
                return Undefined
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, path, value, position_context
            )
        except Exception as error:
            self.handle_field_error(error, kind, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._settled(completed, kind, field_details_list, path)
        return completed

    async def _settled(self, completed: Any, kind: Any, field_details_list: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as error:
            self.handle_field_error(error, kind, field_details_list, path)
            return None


async def _awaited(results: dict[str, Any], awaiting: list[str]) -> dict[str, Any]:
    """``results`` with its awaitables' values, awaited together (graphql-core's way)."""
    if len(awaiting) == 1:
        results[awaiting[0]] = await results[awaiting[0]]
    else:
        values = await gather_with_cancel(*(results[name] for name in awaiting))
        results.update(zip(awaiting, values, strict=True))
    return results
