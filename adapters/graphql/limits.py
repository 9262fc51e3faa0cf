"""What keeps a hostile query cheap to refuse: it is checked before it runs, at the cost of
parsing it. Depth and length (tokens) bound the work a document can ask for, aliases the
fan-out of one field; a page holds at most the read store's page size (``PageSize``).
Introspection can be switched off (``JOBLEDGER_GRAPHQL_INTROSPECTION=false``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from jobledger.adapters.settings import Settings

MAX_ALIASES = 15


def limits(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Each a factory: Strawberry makes every extension afresh for each operation."""
    found: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
    ]
    if not settings.graphql_introspection:
        found.append(DisableIntrospection)
    return found
