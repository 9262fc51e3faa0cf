"""A completed job's result as a GraphQL union, one member per job type, made from the
domain's result models (``domain/results.py``): a new job type joins the union by itself."""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, get_args

import strawberry
from pydantic import BaseModel

from jobledger.adapters.graphql.enums import JobType
from jobledger.adapters.graphql.models import object_type
from jobledger.domain.results import RESULTS, JobResult

MODELS: tuple[type[BaseModel], ...] = get_args(get_args(JobResult)[0])


def _parts(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The models a result model holds (a finding, a threat...), innermost first."""
    found: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        for arg in (field.annotation, *get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += [*_parts(arg), arg]
    return found


PARTS = {part: object_type(part) for m in MODELS for part in _parts(m)}
TYPES = {model: object_type(model, type=JobType) for model in MODELS}
ResultUnion = Annotated[  # type: ignore[valid-type]
    functools.reduce(operator.or_, TYPES.values()),
    strawberry.union("JobResult", description="what a completed job found, by its type"),
]


def result_of(recorded: dict[str, Any]) -> Any:
    """The union member for a result as recorded (it was checked when it was recorded)."""
    model = RESULTS.validate_python(recorded)
    return TYPES[type(model)].from_pydantic(model)
