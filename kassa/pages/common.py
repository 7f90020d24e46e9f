"""What kassa's pages share: the runtime, Stripe.js's origin, and how often a page that
anyone may load asks Stripe about one payment."""

from __future__ import annotations

import time
from collections import OrderedDict
from urllib.parse import urlsplit

from starlette.requests import Request

from kassa.models import PaymentStatus
from kassa.services.receipts import Receipt
from kassa.services.runtime import Runtime


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


# Stripe.js from Stripe itself calls its API and opens 3-D Secure frames on these (Stripe's
# documented policy); the local Stripe-compatible server serves all three from one origin.
STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_JS_NEEDS = ("https://api.stripe.com", "https://hooks.stripe.com")


def stripe_origins(request: Request) -> tuple[str, ...]:
    """The outside origins a card page may use: Stripe.js's, as /client-config names it
    (with what Stripe's own Stripe.js needs besides)."""
    parts = urlsplit(runtime(request).settings.stripe_js_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return (origin, *STRIPE_JS_NEEDS) if origin == STRIPE_JS_ORIGIN else (origin,)


def status_text(receipt: Receipt) -> str:
    """A payment's state as the pages' `*-status` elements show it."""
    if receipt.status is PaymentStatus.FAILED:
        return f"FAILED: {receipt.failure_message or 'the card was declined'}"
    return receipt.status.value


def amount_text(receipt: Receipt) -> str:
    return f"{receipt.amount.format()} {receipt.amount.currency.upper()}"


def card_text(receipt: Receipt) -> str | None:
    if not receipt.card_last4:
        return None
    return f"{(receipt.card_brand or 'card').capitalize()} •••• {receipt.card_last4}"


class StripeAsks:
    """At most one question to Stripe per key every `interval` seconds: pages that anyone
    holding a session id or link may poll never turn into a stream of Stripe calls."""

    def __init__(self, interval: float = 2.0, remembered: int = 10_000) -> None:
        self._interval = interval
        self._remembered = remembered
        self._asked: OrderedDict[str, float] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        last = self._asked.get(key)
        if last is not None and now - last < self._interval:
            return False
        self._asked[key] = now
        self._asked.move_to_end(key)
        while len(self._asked) > self._remembered:
            self._asked.popitem(last=False)
        return True


ASKS = StripeAsks()
