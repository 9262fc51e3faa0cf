"""The limits docs/api.md states are the domain's: each row is rendered from its alias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from jobledger.domain import bounds

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROWS: dict[str, Any] = {
    "`agent`, `model`, an input's `name`": bounds.Name,
    "`pool`": bounds.Pool,
    "`investigationId`, `leaseId`": bounds.Identifier,
    "`reason`": bounds.Reason,
    "`message`": bounds.Message,
    "`code`": bounds.ErrorCode,
    "`mediaType`": bounds.MediaType,
    "`uri`": bounds.Uri,
    "`sizeBytes`": bounds.SizeBytes,
    "token counts, finding counts (preliminary, or in a result)": bounds.Count,
    "`percent`": bounds.Percent,
    "`priority`": bounds.Priority,
    "`maxAttempts`": bounds.MaxAttempts,
    "`leaseSeconds`": bounds.LeaseSeconds,
}


def number(value: int) -> str:
    if value >= 10**6 and str(value).rstrip("0") == "1":
        return f"10^{len(str(value)) - 1}"
    return f"{value:,}"


def accepted(alias: Any) -> str:
    """What a reader needs to know of an alias's JSON schema, in words."""
    schema = TypeAdapter(alias).json_schema()
    if schema["type"] == "string":
        low, high = schema.get("minLength"), number(schema["maxLength"])
        text = f"{low}-{high} characters" if low else f"up to {high} characters"
        pattern = schema.get("pattern")
        if pattern == r"\S":
            return f"{text}, not only spaces"
        return f"{text} matching `{pattern}`" if pattern else text
    high = number(schema["maximum"])
    if "exclusiveMinimum" in schema:
        return f"over {number(schema['exclusiveMinimum'])}, up to {high}"
    return f"{number(schema['minimum'])} to {high}"


def test_the_documented_limits_are_the_domains() -> None:
    documented = API_DOC.read_text()
    for fields, alias in ROWS.items():
        row = f"| {fields} | {accepted(alias)} |"
        assert row in documented, f"docs/api.md should have the row: {row}"
    assert f"at most {bounds.MAX_INPUTS:,} `inputs`" in documented
