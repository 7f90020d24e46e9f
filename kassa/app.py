"""Build the Starlette app: routes, and a lifespan that opens the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise.contrib.starlette import RegisterTortoise

from kassa.config import Settings
from kassa.db import schema_is_current, tortoise_config
from kassa.schema import build_schema
from kassa.schema.context import Context, build_context
from kassa.services.runtime import Runtime
from kassa.webhooks.stripe import stripe_webhook


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return await build_context(request, response)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        current = await schema_is_current()
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
    if not current:
        return JSONResponse({"status": "migrations pending"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def client_config(request: Request) -> Response:
    settings: Settings = request.app.state.runtime.settings
    return JSONResponse(
        {
            "graphqlUrl": "/graphql",
            "stripePublishableKey": settings.stripe_publishable_key,
            "stripeJsUrl": settings.stripe_js_url,
        }
    )


def create_app(settings: Settings, database_url: str) -> Starlette:
    graphql = GraphQLApp(
        build_schema(),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(database_url)):
            try:
                yield
            finally:
                await app.state.runtime.gateway.aclose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            Route("/client-config", client_config),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = Runtime.from_settings(settings)
    return app
