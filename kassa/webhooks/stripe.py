"""`POST /webhooks/stripe`: raw body → verify → store in the inbox → apply → 2xx."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.exceptions import BaseORMException

from kassa.services import payments, stripe_events
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
    signature = request.headers.get("stripe-signature")
    if signature is None:
        return _error(400, "missing Stripe-Signature header")
    try:
        event = verify_webhook(body, signature, secrets)
    except InvalidWebhook as exc:
        return _error(400, str(exc))
    try:
        processed = await _store_and_apply(request, runtime, event, body)
    except (BaseORMException, OSError) as exc:
        # Nothing is committed half-way; a 5xx makes Stripe deliver the event again.
        log.error("could not store Stripe event %s: %s", event.id, exc)
        return _error(503, "temporarily unable to store the event")
    return _answer(processed, runtime)


async def _store_and_apply(
    request: Request, runtime: Runtime, event: VerifiedEvent, body: bytes
) -> stripe_events.Processed:
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    stored = await stripe_events.receive(
        event, body.decode("utf-8"), headers, runtime.expected_events
    )
    return await stripe_events.process(stored.id)


def _answer(processed: stripe_events.Processed, runtime: Runtime) -> Response:
    body = {"received": True, "status": processed.status.value}
    if processed.needs_retry:
        # Stored, but not applied yet (e.g. the payment is not known yet): a 5xx makes
        # Stripe deliver it again, and the next delivery applies the stored event.
        return JSONResponse(body, status_code=500)
    follow_up = None
    if processed.payment_without_card is not None:
        # Card details need a Stripe call, which never delays the answer to Stripe.
        follow_up = BackgroundTask(
            payments.fill_card_details, processed.payment_without_card, runtime.gateway
        )
    return JSONResponse(body, background=follow_up)


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
