"""GraphQL object types made from pydantic models: the REST answer models and the domain's
result models, so a field added there appears here without being listed twice.

Pydantic shapes GraphQL has no type for are widened: a free-form mapping is ``JSON``, a
``Literal`` of words is ``String``.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from strawberry.experimental.pydantic import type as from_pydantic
from strawberry.scalars import JSON


def object_type(model: type[BaseModel], name: str | None = None, **overrides: Any) -> type[Any]:
    """A Strawberry type with every field of ``model`` (``overrides``: annotations that
    replace a field's, e.g. a ``Literal`` tag by an enum)."""
    annotations = {**widened(model), **overrides}
    shell = type(name or model.__name__, (), {"__annotations__": annotations})
    made: type[Any] = from_pydantic(model=model, all_fields=True, name=name)(shell)
    return made


def widened(model: type[BaseModel]) -> dict[str, Any]:
    """Annotations for the fields GraphQL cannot type as pydantic declares them."""
    found: dict[str, Any] = {}
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        args = get_args(annotation)
        optional = get_origin(annotation) in (Union, types.UnionType) and type(None) in args
        core = next(a for a in args if a is not type(None)) if optional else annotation
        if get_origin(core) is dict or core is dict:
            plain: Any = JSON
        elif get_origin(core) is Literal and all(type(v) is str for v in get_args(core)):
            plain = str
        else:
            continue
        found[field_name] = plain | None if optional else plain
    return found


@functools.cache
def plan(kind: Any) -> tuple[tuple[str, str, type[Any] | None], ...]:
    """For each field of a type made by ``object_type``: its name, the JSON name REST
    answers it under, and the GraphQL type of a nested model."""
    model: type[BaseModel] = kind._pydantic_type
    steps = []
    for field_name, field in model.model_fields.items():
        args = get_args(field.annotation) or (field.annotation,)
        nested = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        nested_type = getattr(nested, "_strawberry_type", None) if nested else None
        steps.append((field_name, field.alias or field_name, nested_type))
    return tuple(steps)


def built(kind: Any, answer: dict[str, Any]) -> Any:
    """An instance of ``kind`` from the JSON-ready dict REST answers with (``envelope.py``):
    the same values, no second mapping and no second validation."""
    values = {}
    for field_name, json_name, nested in plan(kind):
        value = answer[json_name]
        values[field_name] = value if nested is None or value is None else built(nested, value)
    return kind(**values)
