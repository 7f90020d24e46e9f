"""Build the Starlette app: routes, and a lifespan that opens the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise.contrib.starlette import RegisterTortoise

from kassa.config import Environment, Settings
from kassa.db import pool_limits, schema_is_current, tortoise_config
from kassa.http_security import Cors, SecurityHeaders
from kassa.metrics import metrics, timed_webhook
from kassa.outage import RETRY_AFTER_SECONDS, DatabaseOutage
from kassa.pages import routes as page_routes
from kassa.schema import build_schema
from kassa.schema.context import Context, build_context
from kassa.schema.guards import Limits, load_persisted_queries
from kassa.services import credits, invoices, plans
from kassa.services.runtime import Runtime
from kassa.web import StaticAssets, render_page
from kassa.webhooks.stripe import stripe_webhook
from kassa.worker.runner import Worker


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return await build_context(request, response)

    async def render_graphql_ide(self, request: Request) -> Response:
        # strawberry's own page loads GraphiQL from a CDN; kassa's works offline.
        return render_page("graphiql.html")

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            raise HTTPException(400, "JSON body is nested too deeply") from exc


class LimitedBody:
    """Reads at most `limit` bytes of a request body, answering 413 beyond it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                response = JSONResponse({"error": "request body too large"}, status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        current = await schema_is_current()
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "error": str(exc)},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
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
    limits = Limits(
        max_tokens=settings.graphql_max_tokens,
        max_depth=settings.graphql_max_depth,
        max_fields=settings.graphql_max_fields,
        max_aliases=settings.graphql_max_aliases,
    )
    graphql = GraphQLApp(
        build_schema(
            limits,
            production=settings.environment is Environment.PRODUCTION,
            request_deadline_seconds=settings.request_deadline_seconds,
            persisted=(
                load_persisted_queries(settings.persisted_queries_path)
                if settings.persisted_queries_path
                else None
            ),
        ),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
    )

    runtime = Runtime.from_settings(settings, database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, config=tortoise_config(database_url, pool_limits(settings))
        ):
            await credits.sync_catalog(credits.read_catalog(settings.credit_packages_path))
            await invoices.sync_seller(invoices.configured_seller(settings))
            await plans.sync_plans(plans.read_plans(settings.credit_packages_path))
            await runtime.open()
            await plans.keep_at_stripe(runtime.gateway)
            try:
                async with _in_process_worker(runtime, database_url):
                    yield
            finally:
                await runtime.close()

    app = Starlette(
        routes=[
            Route(
                "/graphql",
                LimitedBody(graphql, settings.graphql_max_body_bytes),
                methods=["GET", "POST"],
            ),
            WebSocketRoute("/graphql", graphql),
            Route("/webhooks/stripe", timed_webhook(stripe_webhook), methods=["POST"]),
            Route("/metrics", metrics),
            Route("/client-config", client_config),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticAssets(), name="static"),
            *page_routes(settings),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                Cors,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            ),
            # Innermost, so that its 503 still gets the headers above.
            Middleware(DatabaseOutage),
        ],
    )
    app.state.runtime = runtime
    return app


@asynccontextmanager
async def _in_process_worker(runtime: Runtime, database_url: str) -> AsyncIterator[None]:
    """One worker inside the server, so a single machine needs no separate process."""
    if not runtime.settings.worker_in_process:
        yield
        return
    stop = asyncio.Event()
    working = asyncio.create_task(Worker(runtime, database_url).run(stop))
    try:
        yield
    finally:
        stop.set()
        await working
