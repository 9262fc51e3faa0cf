"""What keeps a hostile query cheap to refuse: it is checked before it runs, at the cost of
parsing it. Depth and length (tokens) bound the work a document can ask for, aliases the
fan-out of one field, cost (``cost.py``) the fields it would resolve; a page holds at most
the read store's page size (``PageSize``).
Introspection can be switched off (``JOBLEDGER_GRAPHQL_INTROSPECTION=false``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from jobledger.adapters.graphql.cost import CostLimiter
from jobledger.adapters.settings import Settings

MAX_ALIASES = 15
CACHED_DOCUMENTS = 1_000  # clients send the same few documents with new variables


def limits(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Each a factory: Strawberry makes every extension afresh for each operation."""
    # The depth and alias rules are made once, not per request as Strawberry's
    # QueryDepthLimiter and MaxAliasesLimiter make them: the validation cache below is
    # keyed by the rules, and a new rule class each time would never hit it.
    rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.graphql_max_depth, None),
        aliases_rule(MAX_ALIASES),
    ]
    found: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(AddValidationRules, rules),
        partial(CostLimiter, settings.graphql_max_cost),
    ]
    if not settings.graphql_introspection:
        found.append(DisableIntrospection)
    # Parsing and validating a document cost more than running a small one: each is done
    # once per document text (the limits above are checked then, and hold for the cache).
    found += [
        partial(ParserCache, maxsize=CACHED_DOCUMENTS),
        partial(ValidationCache, maxsize=CACHED_DOCUMENTS),
    ]
    return found
