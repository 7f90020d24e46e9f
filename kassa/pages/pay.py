"""`/pay/{token}`: kassa's own payment page for one payment, behind a signed link (what
retry mails point to). Usable in production: it reaches the domain through services only,
shows what Stripe's receipt would, and pays with a card the holder enters."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kassa.models import Payment, PaymentStatus
from kassa.pages.common import ASKS, amount_text, card_text, runtime, status_text, stripe_origins
from kassa.services import pay_links, receipts, signed_links
from kassa.services.errors import DomainError
from kassa.web import render_page

MAX_BODY_BYTES = 4096
# What a link that cannot be used says, with its HTTP status; nothing about the payment.
UNUSABLE = {
    signed_links.InvalidLink: (404, "This payment link is not valid."),
    signed_links.ExpiredLink: (410, "This payment link has expired. Ask for a new one."),
}
NO_KEY = (404, "Payment links are not set up on this server.")


class UnusableLink(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def _linked(request: Request) -> Payment:
    key = pay_links.signing_key(runtime(request).settings)
    if key is None:
        raise UnusableLink(*NO_KEY)
    try:
        payment_id = pay_links.payment_named(key, request.path_params["token"])
    except (signed_links.InvalidLink, signed_links.ExpiredLink) as exc:
        raise UnusableLink(*UNUSABLE[type(exc)]) from exc
    payment = await pay_links.linked_payment(payment_id)
    if payment is None:  # signed by kassa, for a payment since gone: as if never valid
        raise UnusableLink(*UNUSABLE[signed_links.InvalidLink])
    return payment


async def payment_page(request: Request) -> Response:
    try:
        payment = await _linked(request)
    except UnusableLink as exc:
        return render_page("pay.html", status_code=exc.status_code, problem=exc.message)
    payment = await _refreshed(request, payment)
    receipt = await receipts.receipt_of(payment)
    return render_page(
        "pay.html",
        origins=stripe_origins(request),
        problem=None,
        amount=amount_text(receipt),
        description=receipt.description,
        status=status_text(receipt),
        card=card_text(receipt),
        closed=await _closed_reason(payment),
    )


async def _closed_reason(payment: Payment) -> str | None:
    """None when the form may be shown, else why not."""
    try:
        await pay_links.require_payable(payment)
    except DomainError as exc:
        return exc.message
    return None


async def _refreshed(request: Request, payment: Payment) -> Payment:
    if not ASKS.allow(f"pay:{payment.id}"):
        return payment
    return await pay_links.refreshed(runtime(request).gateway, payment)


async def payment_status(request: Request) -> Response:
    try:
        payment = await _refreshed(request, await _linked(request))
    except UnusableLink as exc:
        return _problem(exc.status_code, exc.message)
    return await _state(payment)


async def card_setup(request: Request) -> Response:
    try:
        payment = await _linked(request)
        secret = await pay_links.card_setup(runtime(request).gateway, payment)
    except UnusableLink as exc:
        return _problem(exc.status_code, exc.message)
    except DomainError as exc:
        return _problem(409, exc.message, exc.code.value)
    return JSONResponse({"clientSecret": secret}, headers={"Cache-Control": "no-store"})


async def confirm(request: Request) -> Response:
    try:
        payment = await _linked(request)
        method = await _payment_method_id(request)
        created = await pay_links.pay(runtime(request).gateway, payment, method)
    except UnusableLink as exc:
        return _problem(exc.status_code, exc.message)
    except DomainError as exc:
        return await _refused(payment.id, exc)
    return await _state(created.payment, created.client_secret)


async def _payment_method_id(request: Request) -> str:
    # JSON only: a form posted from another site cannot send it without CORS allowing it.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UnusableLink(415, "Send JSON.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise UnusableLink(413, "The request is too large.")
    try:
        method = json.loads(body or b"{}").get("paymentMethodId")
    except (ValueError, AttributeError) as exc:
        raise UnusableLink(400, 'Send {"paymentMethodId": "pm_…"}.') from exc
    if not isinstance(method, str):
        raise UnusableLink(400, 'Send {"paymentMethodId": "pm_…"}.')
    return method


async def _refused(payment_id: uuid.UUID, exc: DomainError) -> Response:
    payment = await Payment.get(id=payment_id)
    receipt = await receipts.receipt_of(payment)
    return JSONResponse(
        {"status": status_text(receipt), "error": {"code": exc.code.value, "message": exc.message}},
        status_code=402 if exc.code.value == "CARD_DECLINED" else 409,
        headers={"Cache-Control": "no-store"},
    )


async def _state(payment: Payment, client_secret: str | None = None) -> Response:
    receipt = await receipts.receipt_of(payment)
    shown: dict[str, object] = {"status": status_text(receipt), "card": card_text(receipt)}
    if payment.status is PaymentStatus.REQUIRES_ACTION and client_secret:
        shown["clientSecret"] = client_secret  # for Stripe.js to finish 3-D Secure
    return JSONResponse(shown, headers={"Cache-Control": "no-store"})


def _problem(status_code: int, message: str, code: str | None = None) -> Response:
    error = {"message": message, **({"code": code} if code else {})}
    return JSONResponse({"error": error}, status_code=status_code)
