"""``/graphql`` on the FastAPI app: POST and GET queries, WebSocket subscriptions
(graphql-transport-ws), and GraphiQL for a browser's GET."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from jobledger.adapters.graphql import ide
from jobledger.adapters.graphql.context import Context, connect, context_of
from jobledger.adapters.graphql.schema import build_schema
from jobledger.adapters.settings import Settings

PATH = "/graphql"


class LedgerRouter(GraphQLRouter[Context, None]):
    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return ide.response()

    def encode_json(self, data: object) -> bytes:
        """orjson, as REST's answers (``answers.py``): a page of jobs encodes in a fraction
        of the standard library's time."""
        return orjson.dumps(data)

    async def on_ws_connect(self, context: Context) -> None:
        connect(context, context.connection_params)


def mount(app: FastAPI, settings: Settings) -> None:
    router = LedgerRouter(
        build_schema(settings),
        path=PATH,
        context_getter=context_of,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        include_in_schema=False,
    )
    app.include_router(router)
