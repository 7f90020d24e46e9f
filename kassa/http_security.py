"""Response headers for browsers: what a page may load, who may frame it, who may call.

kassa's pages load scripts, styles and fonts from kassa's own origin only (`/static/`, see
kassa/web.py) and run no inline script, so their Content-Security-Policy names no other
origin unless a page asks for one (Stripe.js's, for a card field). Every other response gets
a policy that allows nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page_policy(origins: Sequence[str] = ()) -> str:
    """The policy of one of kassa's pages: its own origin, plus `origins` for scripts, frames
    and calls (e.g. `https://js.stripe.com`)."""
    others = "".join(f" {origin}" for origin in origins)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self'{others}",
            # GraphiQL's editor and Stripe.js set style attributes and <style> at run time.
            "style-src 'self' 'unsafe-inline'",
            # graphiql.min.css carries its fonts and icons as data: URLs.
            "font-src 'self' data:",
            "img-src 'self' data:",
            # 'self' covers the page's own WebSocket (ws: on http, wss: on https).
            f"connect-src 'self'{others}",
            f"frame-src 'self'{others}",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


_ADDED = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in {**COMMON_HEADERS, "Content-Security-Policy": API_POLICY}.items()
]


class SecurityHeaders:
    """Adds the common headers to every HTTP response, and the API policy to any response
    that did not set a Content-Security-Policy of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # What MutableHeaders.setdefault does for each, in one pass over the headers.
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _ in headers}
                headers += [header for header in _ADDED if header[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Cors(CORSMiddleware):
    """starlette's CORS middleware, adding `Vary: Origin` to an answer for a request without
    an Origin (every call that is not a browser's) in one step instead of its header rewrite."""

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        if message["type"] == "http.response.start" and "origin" not in request_headers:
            headers = message["headers"] = list(message.get("headers", ()))
            if all(name != b"vary" for name, _ in headers):
                headers.append((b"vary", b"Origin"))
                await send(message)
                return
        await super().send(message, send, request_headers)
