"""The database being away answers 503 with Retry-After; a bug still answers as a bug.

The routes' real behaviour with PostgreSQL stopped is in tests/faults; these pin down the
line between the two on errors raised on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from kassa.outage import DatabaseOutage
from kassa.schema import error_extensions


@strawberry.type
class Query:
    @strawberry.field
    def refused(self) -> int:
        raise ConnectionRefusedError(111, "Connection refused")

    @strawberry.field
    def closed(self) -> int:
        raise asyncpg.InterfaceError("connection is closed")

    @strawberry.field
    def shutting_down(self) -> int:
        raise asyncpg.CannotConnectNowError("the database system is shutting down")

    @strawberry.field
    def busy(self) -> int:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    @strawberry.field
    def bug(self) -> int:
        raise ValueError("a bug")

    @strawberry.field
    def fine(self) -> int:
        return 1


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def changes(self) -> AsyncGenerator[int, None]:
        yield 1
        raise ConnectionResetError(104, "Connection reset by peer")


class GraphQLApp(GraphQL[SimpleNamespace, None]):
    async def get_context(self, request: object, response: object) -> SimpleNamespace:
        return SimpleNamespace(request=request, response=response)


async def refused_route(request: Request) -> Response:
    raise ConnectionRefusedError(111, "Connection refused")


async def bug_route(request: Request) -> Response:
    raise ValueError("a bug")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    schema = strawberry.Schema(query=Query, extensions=error_extensions())
    app = Starlette(
        routes=[
            Route("/graphql", GraphQLApp(schema), methods=["POST"]),
            Route("/refused", refused_route),
            Route("/bug", bug_route),
        ],
        middleware=[Middleware(DatabaseOutage)],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        yield client


@pytest.mark.parametrize("field", ["refused", "closed", "shuttingDown"])
async def test_a_resolver_finding_the_database_away_makes_the_answer_503(
    client: httpx.AsyncClient, field: str
) -> None:
    # when
    response = await client.post("/graphql", json={"query": f"{{ fine {field} }}"})

    # then
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 2}
    assert error["path"] == [field]


@pytest.mark.parametrize("field", ["bug", "busy"])
async def test_a_bug_stays_a_masked_internal_error(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post("/graphql", json={"query": f"{{ fine {field} }}"})

    assert response.status_code == 200
    assert "retry-after" not in response.headers
    assert response.json()["errors"] == [
        {"message": "Internal error", "locations": [{"line": 1, "column": 8}], "path": [field]}
    ]


async def test_any_route_answers_503_when_the_database_is_away(client: httpx.AsyncClient) -> None:
    response = await client.get("/refused")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"


async def test_a_bug_on_a_route_is_still_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/bug")

    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_a_subscription_is_told_when_the_database_goes_away() -> None:
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=error_extensions()
    )

    results = [result async for result in await schema.subscribe("subscription { changes }")]

    assert [result.data for result in results] == [{"changes": 1}, None]
    [error] = results[1].errors or []
    assert error.extensions == {"code": "UNAVAILABLE", "retryAfter": 2}
