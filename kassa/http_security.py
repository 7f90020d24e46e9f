"""Response headers for browsers: what a page may load, who may frame it, who may call.

GraphiQL's page loads its scripts and styles from a CDN and runs one inline script; its
Content-Security-Policy names exactly the origins that page loads from and the hash of
that script, read from the page itself, so the policy follows the page when strawberry
updates it. Every other response gets a policy that allows nothing at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

_LOADED = re.compile(r'(?:src|href)="(https://[^"]+)"')
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_policy(html: str) -> str:
    """The policy of one HTML page: its own origins and inline scripts, nothing else."""
    origins = sorted({_origin(url) for url in _LOADED.findall(html)})
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    sources = " ".join(origins)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {sources} {' '.join(hashes)}".strip(),
            f"style-src 'self' 'unsafe-inline' {sources}".strip(),
            f"font-src 'self' data: {sources}".strip(),
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", API_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)
