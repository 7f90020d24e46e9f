"""Headers for browsers: content policies, no sniffing, no framing, CORS allow-list."""

from __future__ import annotations

import httpx

from kassa.app import create_app
from kassa.config import Settings
from tests.support import Kassa


async def test_graphiql_page_allows_only_what_it_loads(kassa: Kassa) -> None:
    response = await kassa.http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'sha256-" in policy  # its one inline script, by hash
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self' https://" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_api_answers_allow_nothing_to_load(kassa: Kassa) -> None:
    graphql = await kassa.http.post("/graphql", json={"query": "{ __typename }"})
    health = await kassa.http.get("/healthz")

    for response in (graphql, health):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_cors_answers_only_the_allowed_origins(settings: Settings, database_url: str) -> None:
    app = create_app(
        settings.with_overrides(cors_origins_text="https://app.example, https://admin.example"),
        database_url,
    )
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        allowed = await client.options(
            "/graphql", headers={"Origin": "https://admin.example", **preflight}
        )
        refused = await client.options(
            "/graphql", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Origin": "https://evil.example"},
        )

    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Origin" not in simple.headers


async def test_no_cors_origins_by_default(kassa: Kassa) -> None:
    response = await kassa.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://app.example"}
    )

    assert "Access-Control-Allow-Origin" not in response.headers
