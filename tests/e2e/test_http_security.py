"""Headers for browsers: content policies, no sniffing, no framing, CORS allow-list."""

from __future__ import annotations

import re

import httpx

from kassa.app import create_app
from kassa.config import Settings
from kassa.web import VENDOR_DIR
from tests.support import Kassa


async def test_graphiql_page_loads_only_from_kassa(kassa: Kassa) -> None:
    response = await kassa.http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" not in policy
    assert "://" not in policy
    assert "://" not in response.text
    assert "<script>" not in response.text  # no inline script: the page needs no hash
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_static_files_are_cached_by_how_they_change(kassa: Kassa) -> None:
    page = (await kassa.http.get("/graphql", headers={"Accept": "text/html"})).text
    vendored = re.findall(r'"(/static/vendor/[^"]+)"', page)
    own = re.findall(r'"(/static/[^v][^"]+)"', page)

    assert {path.rsplit(".", 1)[1] for path in vendored} == {"js", "css"}
    assert own == ["/static/graphiql.css", "/static/graphiql.js"]
    for path in vendored:
        response = await kassa.http.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for path in own:
        response = await kassa.http.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-cache"
        again = await kassa.http.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
        assert again.headers["Cache-Control"] == "no-cache"
    script = await kassa.http.get("/static/graphiql.js")
    assert script.headers["Content-Type"].startswith("text/javascript")


async def test_static_files_stay_inside_their_folder(kassa: Kassa) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/vendor/nothing.js"):
        response = await kassa.http.get(path)
        assert response.status_code == 404, path


async def test_every_vendored_package_has_its_licence() -> None:
    for folder in VENDOR_DIR.iterdir():
        if folder.is_dir():
            assert any(p.name.upper().startswith("LICEN") for p in folder.iterdir()), folder


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
