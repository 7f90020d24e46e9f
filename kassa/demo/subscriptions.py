"""Subscriptions of the local Stripe-compatible server closer to Stripe's (demo and tests only).

localstripe bills a subscription's invoices to the customer's default card only, charges the
first invoice at once or fails, takes items by `plan`, and ignores `proration_behavior`.
Stripe also takes the subscription's own `default_payment_method`,
`payment_behavior=default_incomplete` (the first invoice's PaymentIntent waits for the
browser), items by `price` (a Plan is a Price there), and `always_invoice` (the proration is
invoiced and charged with the change); an update sends `customer.subscription.updated`.
Renewals over time, `invoice.paid` and retries stay missing: tests sign those events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstripe import resources
from localstripe.resources import Customer, Invoice, PaymentIntent, Subscription

from kassa.demo import local_events


def install() -> None:
    """Before localstripe's server module builds its routes from `extra_apis`."""
    original_pay = Invoice._api_pay_invoice
    pay = classmethod(_pay_invoice(original_pay.__func__))
    resources.extra_apis[:] = [
        (method, url, pay.__get__(None, Invoice) if func == original_pay else func)
        for method, url, func in resources.extra_apis
    ]
    Invoice._api_pay_invoice = pay
    Subscription.__init__ = _init(Subscription.__init__)
    Subscription._update = _update(Subscription._update)


def _items_by_price(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [
        {**item, "plan": item.pop("price")} if isinstance(item, dict) and "price" in item else item
        for item in items
    ]


def _init(original: Callable[..., None]) -> Callable[..., None]:
    def init(
        self: Any,
        *args: Any,
        default_payment_method: str | None = None,
        payment_behavior: str = "allow_incomplete",
        items: Any = None,
        **params: Any,
    ) -> None:
        # Read by the invoice's payment, which runs inside the original constructor.
        self.default_payment_method = default_payment_method
        self._default_incomplete = payment_behavior == "default_incomplete"
        behavior = "allow_incomplete" if self._default_incomplete else payment_behavior
        original(self, *args, payment_behavior=behavior, items=_items_by_price(items), **params)

    return init


def _update(original: Callable[..., None]) -> Callable[..., None]:
    def update(
        self: Any,
        items: Any = None,
        proration_behavior: str | None = None,
        payment_behavior: str | None = None,
        **params: Any,
    ) -> None:
        original(self, items=_items_by_price(items), **params)
        if items is not None and proration_behavior == "always_invoice":
            self._create_invoice()
        local_events.send("customer.subscription.updated", self)

    return update


def _pay_invoice(original: Callable[..., Any]) -> Callable[..., Any]:
    def pay(cls: Any, id: str) -> Any:
        invoice = Invoice._api_retrieve(id)
        subscription = (
            Subscription._api_retrieve(invoice.subscription) if invoice.subscription else None
        )
        method = getattr(subscription, "default_payment_method", None)
        first_waits = (
            subscription is not None
            and getattr(subscription, "_default_incomplete", False)
            and subscription.status == "incomplete"
        )
        if (not method and not first_waits) or invoice.status not in ("draft", "open"):
            return original(cls, id)
        invoice._draft = False
        if invoice.total <= 0:
            invoice._on_payment_success()
            return invoice
        default = Customer._api_retrieve(invoice.customer)._get_default_payment_method_or_source()
        intent = PaymentIntent(
            amount=invoice.total,
            currency=invoice.currency,
            customer=invoice.customer,
            payment_method=method or (default.id if default else None),
        )
        invoice.payment_intent = intent.id
        intent.invoice = invoice.id
        if not first_waits:
            intent._confirm(on_failure_now=lambda: None)
        return invoice

    return pay
