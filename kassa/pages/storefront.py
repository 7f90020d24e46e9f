"""`GET /`: the demo storefront (demo and development only; the route does not exist in
production). The page is a GraphQL client like any other, signed in as the demo
organization's owner with a token handed over in the page itself."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from kassa.pages.common import runtime, stripe_origins
from kassa.services import storefront
from kassa.web import render_page


async def storefront_page(request: Request) -> Response:
    token = storefront.visitor_token(runtime(request).settings)
    response = render_page("storefront.html", origins=stripe_origins(request), token=token)
    # The page carries a bearer token: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response
