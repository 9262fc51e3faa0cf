"""Turn pydantic's validation errors into one line that names field and reason."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


def describe(error: ValidationError, prefix: str = "", skip: int = 0) -> str:
    """``field.path: reason; ...``; ``skip`` drops leading locations (a union's tag)."""
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"][skip:])
        field = ".".join(p for p in (prefix, location) if p) or "value"
        parts.append(f"{field}: {item['msg']}")
    return "; ".join(parts)


def storable_text(model: BaseModel) -> BaseModel:
    """Text a read model will hold may not contain NUL, which PostgreSQL cannot store
    (a ``model_validator(mode="after")`` for models with such fields)."""
    for name, value in model:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} may not contain NUL (\\x00) characters")
    return model
