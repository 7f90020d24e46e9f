"""Renewals on demand for the local Stripe-compatible server (demo and tests only).

localstripe has no clock: a subscription never reaches the end of its period. Stripe's test
clocks move time forward; here `POST /_config/subscriptions/{id}/renew` does for one
subscription what Stripe does when its period ends, now: the next period begins, its
invoice is created, finalized and charged to the subscription's default card (else the
customer's), and the events Stripe sends follow, signed like Stripe's (`invoice.created`,
`invoice.finalized`, `payment_intent.*`, `invoice.paid` and `invoice.payment_succeeded`, or
`invoice.payment_failed` with its `attempt_count`, and `customer.subscription.updated`).
`outcome=declined` has the bank decline that charge, as a card that has run dry would: the
subscription is `past_due` and its invoice stays open. Paying that invoice's PaymentIntent
later (kassa's payment page does, with the payer's card) pays the invoice: `invoice.paid`,
and the subscription is `active` again (`customer.subscription.updated`). A subscription set
to cancel at its period's end ends instead of renewing (`customer.subscription.deleted`).

`{id}` is Stripe's subscription id or kassa's (`csub_…`, found by the subscription's
metadata). Under `/_config/`, as localstripe's own controls, it needs no API key: the demo
storefront's button calls it from the browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import (
    Charge,
    Customer,
    Invoice,
    PaymentIntent,
    Subscription,
    store,
)

from kassa.demo import local_events
from kassa.ids import IdKind, decode

RENEW_PATH = "/_config/subscriptions/{id}/renew"
OUTCOMES = ("paid", "declined")
RENEWABLE = ("active", "past_due")


def install() -> None:
    """Stripe's events around an invoice's payment that localstripe leaves out."""
    Invoice._on_payment_success = _paid(Invoice._on_payment_success)
    Invoice._on_payment_failure_now = _failed(Invoice._on_payment_failure_now)
    Invoice._on_payment_failure_later = _failed(Invoice._on_payment_failure_later)


def _subscription_of(invoice: Any) -> Any:
    return store.get(f"subscription:{invoice.subscription}") if invoice.subscription else None


def _paid(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def paid(self: Any) -> None:
        subscription = _subscription_of(self)
        before = subscription.status if subscription is not None else None
        # Stripe counts every attempt; the one that paid is the last.
        self.attempt_count = getattr(self, "_failed_attempts", 0) + 1
        original(self)
        local_events.send("invoice.paid", self)
        if before in ("past_due", "unpaid") and subscription.status == "active":
            local_events.send("customer.subscription.updated", subscription)

    return paid


def _failed(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def failed(self: Any) -> None:
        subscription = _subscription_of(self)
        before = subscription.status if subscription is not None else None
        self._failed_attempts = getattr(self, "_failed_attempts", 0) + 1
        self.attempt_count = self._failed_attempts
        original(self)
        if before in RENEWABLE and subscription.status != before:
            local_events.send("customer.subscription.updated", subscription)

    return failed


def renew(subscription_id: str, outcome: str) -> Any:
    """The subscription's next period, paid or declined; its invoice (or the subscription,
    when it ended instead)."""
    if outcome not in OUTCOMES:
        raise UserError(400, f"outcome is one of {', '.join(OUTCOMES)}", {"param": "outcome"})
    subscription = _find(subscription_id)
    if subscription.status not in RENEWABLE:
        raise UserError(400, f"a {subscription.status} subscription does not renew")
    if subscription.cancel_at_period_end:
        return Subscription._api_delete(subscription.id)
    before = subscription.status
    # The period that ended is followed by the next one (what a test clock's advance does).
    subscription.start_date = subscription.current_period_end
    invoice = Invoice(
        customer=subscription.customer,
        subscription=subscription.id,
        items=list(subscription.items._list),
        date=int(time.time()),
    )
    invoice.billing_reason = "subscription_cycle"
    invoice._finalize()
    local_events.send("invoice.finalized", invoice)
    _charge(invoice, subscription, declined=outcome == "declined")
    if subscription.status == before:  # else the payment's outcome has said so already
        local_events.send("customer.subscription.updated", subscription)
    return invoice


def _find(subscription_id: str) -> Any:
    kassa_id = decode(IdKind.SUBSCRIPTION, subscription_id)
    if kassa_id is None:
        return Subscription._api_retrieve(subscription_id)
    for key, value in list(store.items()):
        if key.startswith("subscription:") and value.metadata.get("kassa_subscription_id") == str(
            kassa_id
        ):
            return value
    raise UserError(404, f"No such subscription: '{subscription_id}'")


def _charge(invoice: Any, subscription: Any, *, declined: bool) -> None:
    """Charge the invoice as Stripe does at renewal: off session, no one to authenticate."""
    if invoice.total <= 0:
        invoice._on_payment_success()
        return
    method = subscription.default_payment_method or _customer_default(invoice.customer)
    if method is None:
        raise UserError(400, "the subscription has no card to charge")
    intent = PaymentIntent(
        amount=invoice.total,
        currency=invoice.currency,
        customer=invoice.customer,
        payment_method=method,
    )
    invoice.payment_intent = intent.id
    intent.invoice = invoice.id
    charge = Charge(
        amount=intent.amount, currency=intent.currency, customer=intent.customer, source=method
    )
    charge.payment_intent = intent.id
    if declined:
        charge._authorized = False  # the bank says no to this one charge
    intent.latest_charge = charge
    # Either way the intent reports it: payment_intent.* and the invoice's own events.
    charge._initialize_charge(
        intent._on_success, intent._report_async_failure, intent._report_async_failure
    )


def _customer_default(customer_id: str) -> str | None:
    default = Customer._api_retrieve(customer_id)._get_default_payment_method_or_source()
    return default.id if default is not None else None


async def renew_route(request: web.Request) -> web.Response:
    # Imported here: importing localstripe's server binds its routes, after `install`s only.
    from localstripe.server import get_post_data

    data = await get_post_data(request) or {}
    outcome = str(data.get("outcome") or request.query.get("outcome") or "paid")
    renewed = renew(request.match_info["id"], outcome)
    return web.json_response(renewed._export())


def add_routes(app: web.Application) -> None:
    app.router.add_post(RENEW_PATH, renew_route)
