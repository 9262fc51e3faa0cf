"""Turn pydantic's validation errors into one line that names field and reason."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError, prefix: str = "", skip: int = 0) -> str:
    """``field.path: reason; ...``; ``skip`` drops leading locations (a union's tag)."""
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"][skip:])
        field = ".".join(p for p in (prefix, location) if p) or "value"
        parts.append(f"{field}: {item['msg']}")
    return "; ".join(parts)
