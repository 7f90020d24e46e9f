"""The hosted Checkout page of the local Stripe-compatible server (demo and tests only).

Stripe's own page does not exist offline; this one stands in at the session's `url`. It
collects the card with localstripe's Stripe.js (a SetupIntent confirmed in the browser,
the path that works there), then asks `/confirm` to pay: the session's PaymentIntent is
created and confirmed here with the session's amount, customer and
`payment_intent_data[metadata]`, exactly the intent Stripe makes for a session. A card
that needs 3-D Secure answers `requires_action`; the page completes it with Stripe.js's
`confirmCardPayment` and calls `/confirm` again. Once the intent succeeded the session is
completed (and `checkout.session.completed` sent) and the browser goes to `success_url`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import PaymentIntent, PaymentMethod, SetupIntent
from localstripe.server import get_post_data

from kassa.demo.checkout_sessions import HOSTED_PATH, CheckoutSession, retrieve
from kassa.demo.local_stripe import PUBLISHABLE_KEY
from kassa.money import Money, MoneyError

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _amount(session: CheckoutSession) -> str:
    try:
        major = Money.of_minor(session.amount_total, session.currency).format()
    except MoneyError:
        major = str(session.amount_total)
    return f"{major} {str(session.currency).upper()}"


async def hosted_page(request: web.Request) -> web.Response:
    session = retrieve(request.match_info["id"])
    html = _templates.get_template("checkout.html").render(
        session=session,
        product=session._product_name,
        amount=_amount(session),
        stripe_js_url=f"{request.scheme}://{request.host}/js.stripe.com/v3/",
        publishable_key=PUBLISHABLE_KEY,
        confirm_url=f"{HOSTED_PATH}{session.id}/confirm",
        setup_url=f"{HOSTED_PATH}{session.id}/setup_intent",
        success_url=session._redirect_url() if session.status == "complete" else None,
    )
    return web.Response(text=html, content_type="text/html")


async def new_setup_intent(request: web.Request) -> web.Response:
    """A fresh SetupIntent per attempt: one is confirmed only once, a retry needs another."""
    session = _open_session(request)
    setup = SetupIntent(usage="on_session", metadata={"checkout_session": session.id})
    return web.json_response({"client_secret": setup.client_secret})


async def confirm(request: web.Request) -> web.Response:
    """Pay the session with `payment_method`, or finish a payment whose 3-D Secure is done."""
    session = retrieve(request.match_info["id"])
    if session.status == "complete":
        return _paid(session)
    session = _open_session(request)
    data = await get_post_data(request) or {}
    try:
        intent = _pay(session, data.get("payment_method"))
    except UserError as exc:
        # A decline: the session stays open for another card, as on Stripe's page.
        return web.json_response(exc.body, status=exc.code)
    if intent.status == "requires_action":
        return web.json_response(
            {"status": "requires_action", "client_secret": intent.client_secret}
        )
    if intent.status != "succeeded":
        return web.json_response(_error(intent), status=402)
    session._complete(intent)
    return _paid(session)


def _open_session(request: web.Request) -> CheckoutSession:
    session = retrieve(request.match_info["id"])
    if session.status != "open":
        raise UserError(400, f"This Checkout Session is {session.status}.")
    return session


def _pay(session: CheckoutSession, payment_method: Any) -> Any:
    if payment_method is None:
        if session.payment_intent is None:
            raise UserError(400, "Enter your card details.", {"param": "payment_method"})
        return PaymentIntent._api_retrieve(session.payment_intent)  # after 3-D Secure
    if not isinstance(payment_method, str) or not payment_method:
        raise UserError(400, "Invalid string: payment_method", {"param": "payment_method"})
    PaymentMethod._api_retrieve(payment_method)  # 404 for an unknown card
    if session.payment_intent is None:
        intent = session._new_payment_intent()
    else:
        intent = PaymentIntent._api_retrieve(session.payment_intent)
    if intent.status in ("requires_payment_method", "requires_action"):
        # Stripe's page pays a declined or unauthenticated session's intent again with the
        # next card; localstripe only confirms an intent with nothing pending on it.
        intent.latest_charge = None
        intent.next_action = None
    PaymentIntent._api_update(intent.id, payment_method=payment_method)
    return PaymentIntent._api_confirm(intent.id)


def _error(intent: Any) -> dict[str, Any]:
    failure = intent.last_payment_error or {}
    message = failure.get("message") or "Enter your card details."
    return {"error": {"type": "card_error", "code": failure.get("code"), "message": message}}


def _paid(session: CheckoutSession) -> web.Response:
    return web.json_response({"status": "complete", "redirect_url": session._redirect_url()})


def public_pages(auth: Any) -> Any:
    """localstripe's auth middleware, letting the hosted page through as Stripe does."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(HOSTED_PATH):
            response: web.StreamResponse = await handler(request)
            return response
        response = await auth(request, handler)
        return response

    return middleware


def add_routes(app: web.Application) -> None:
    app.router.add_get(HOSTED_PATH + "{id}", hosted_page)
    app.router.add_post(HOSTED_PATH + "{id}/setup_intent", new_setup_intent)
    app.router.add_post(HOSTED_PATH + "{id}/confirm", confirm)
