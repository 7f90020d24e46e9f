"""Intents of the local Stripe-compatible server that behave as Stripe's (demo and tests
only), where localstripe differs in ways a browser meets:

- a SetupIntent that succeeds attaches its card to its customer and sends
  `setup_intent.succeeded`; localstripe does neither, so a card saved in a browser would
  never reach kassa;
- a PaymentIntent declined or failed at 3-D Secure takes the next card (Stripe moves it back
  to `requires_confirmation`); localstripe keeps it stuck on the failed charge.
"""

from __future__ import annotations

from typing import Any

from localstripe import resources
from localstripe.webhooks import schedule_webhook


def install() -> None:
    """Before localstripe's server module builds its routes from `extra_apis`."""
    _finish_setups_as_stripe()
    resources.PaymentIntent._api_update = classmethod(_update_payment_intent)


def _finish_setups_as_stripe() -> None:
    original = resources.SetupIntent._api_confirm

    def confirm(**data: Any) -> Any:
        before = _status(data.get("id"))
        intent = original(**data)
        if intent.status == "succeeded" and before != "succeeded":
            _succeeded(intent)
        return intent

    resources.extra_apis[:] = [
        (method, url, confirm if func == original else func)
        for method, url, func in resources.extra_apis
    ]


def _status(intent_id: Any) -> str | None:
    try:
        return str(resources.SetupIntent._api_retrieve(intent_id).status)
    except Exception:  # the confirm call itself answers for an unknown intent
        return None


def _succeeded(intent: Any) -> None:
    if intent.customer and intent.payment_method:
        resources.PaymentMethod._api_retrieve(intent.payment_method).customer = intent.customer
    event = resources.Event("setup_intent.succeeded", intent)
    event.pending_webhooks = 1
    event.request = {"id": None, "idempotency_key": None}
    schedule_webhook(event)


def _update_payment_intent(cls: Any, /, id: str, **data: Any) -> Any:
    if "payment_method" in data:
        intent = cls._api_retrieve(id)
        if intent.status in ("requires_payment_method", "requires_action"):
            intent.latest_charge = None
            intent.next_action = None
    return resources.StripeObject._api_update.__func__(cls, id, **data)
