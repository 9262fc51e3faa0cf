"""The schema, built from settings (its limits) when the app is made, never at import."""

from __future__ import annotations

from graphql.error import GraphQLError
from strawberry import Schema
from strawberry.types import ExecutionContext

from jobledger.adapters.graphql.errors import coded
from jobledger.adapters.graphql.execution import LedgerExecutionContext
from jobledger.adapters.graphql.limits import limits
from jobledger.adapters.graphql.mutations import Mutation
from jobledger.adapters.graphql.queries import Query
from jobledger.adapters.graphql.subscriptions import Subscription
from jobledger.adapters.settings import Settings


class LedgerSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Each error gets its REST problem code; refusals are the caller's business (their
        codes say why): only the unexpected is logged, by ``coded``."""
        for error in errors:
            coded(error)


def build_schema(settings: Settings) -> Schema:
    return LedgerSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=limits(settings),
        execution_context_class=LedgerExecutionContext,
    )


def sdl() -> str:
    """The schema as SDL (``docs/schema.graphql``); the limits do not change it."""
    return build_schema(Settings()).as_str() + "\n"
