"""While the database is away, every route answers HTTP 503 with `Retry-After`: a client
(or Stripe) can tell an outage it should wait out from a bug, and nothing is half done.

Routes that catch such errors themselves (GraphQL resolvers, the webhook) answer the same
way; this middleware covers whatever reaches it, on every route.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.db import unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# "Try Again Later": a websocket closed because the database is away.
WEBSOCKET_TRY_AGAIN_LATER = 1013


def unavailable_response(message: str = "the database is unavailable") -> JSONResponse:
    return JSONResponse(
        {"error": f"{message}; retry in {RETRY_AFTER_SECONDS} s"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class DatabaseOutage:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] in _STARTING
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started or not unavailable(exc):
                raise
            log.warning(
                "%s %s: database unavailable (%s)", scope["type"], scope["path"], describe(exc)
            )
            await _answer_unavailable(scope, receive, send)


# Once one of these is sent, the answer has begun and cannot become a 503.
_STARTING = frozenset({"http.response.start", "websocket.accept", "websocket.close"})


async def _answer_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": WEBSOCKET_TRY_AGAIN_LATER})
        return
    await unavailable_response()(scope, receive, send)
