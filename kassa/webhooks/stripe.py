"""`POST /webhooks/stripe`: raw body → verify → store in the inbox (one statement) → 2xx;
the workers are woken after it."""

from __future__ import annotations

import logging

from asyncpg import InterfaceError, PostgresError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from tortoise.exceptions import BaseORMException

from kassa.outage import describe, unavailable_response
from kassa.services import stripe_events
from kassa.services.runtime import Runtime
from kassa.services.stripe_gateway import InvalidWebhook, VerifiedEvent, verify_webhook

log = logging.getLogger(__name__)

KEPT_HEADERS = ("stripe-signature", "content-type", "user-agent")


class BodyTooLarge(Exception):
    pass


async def stripe_webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    secrets = runtime.settings.webhook_secrets
    if not secrets:
        return _error(503, "no Stripe webhook secret is configured")
    try:
        body = await _read_body(request, runtime.settings.webhook_max_body_bytes)
    except BodyTooLarge:
        return _error(413, "body too large")
    except ClientDisconnect:
        return _error(400, "the client went away before sending the whole body")
    signature = request.headers.get("stripe-signature")
    if signature is None:
        return _error(400, "missing Stripe-Signature header")
    try:
        event = verify_webhook(body, signature, secrets)
    except InvalidWebhook as exc:
        return _error(400, str(exc))
    try:
        stored = await _store(request, runtime, event, body)
    except (BaseORMException, PostgresError, InterfaceError, OSError) as exc:
        # Nothing is committed half-way; a 503 makes Stripe deliver the event again.
        log.error("could not store Stripe event %s: %s", event.id, describe(exc))
        return unavailable_response("temporarily unable to store the event")
    return JSONResponse({"received": True, "status": stored})


async def _store(request: Request, runtime: Runtime, event: VerifiedEvent, body: bytes) -> str:
    """Store the event for the workers; its stored status."""
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    status = await stripe_events.receive(
        event, body.decode("utf-8"), headers, runtime.expected_events
    )
    if status in stripe_events.UNHANDLED:
        runtime.events_stored.stored()
    return status.value


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)
