"""PaymentIntents and Refunds of the local Stripe-compatible server that behave as Stripe's
(demo and tests only): one declined or failed at 3-D Secure takes the next card (Stripe moves
it back to `requires_confirmation`); localstripe keeps it stuck on the failed charge. And both
are listed newest first, as Stripe lists them: reconciliation pages back in time and stops at
the first object older than its window, so oldest-first lists hid every recent object once
the server held more than a page. (SetupIntents and their events: `local_events`.)"""

from __future__ import annotations

from typing import Any

from localstripe import resources


def install() -> None:
    """Before localstripe's server module builds its routes from `extra_apis`."""
    resources.PaymentIntent._api_update = classmethod(_update_payment_intent)
    for resource in (resources.PaymentIntent, resources.Refund):
        resource._api_list_all = _newest_first(resource._api_list_all.__func__)


def _update_payment_intent(cls: Any, /, id: str, **data: Any) -> Any:
    if "payment_method" in data:
        intent = cls._api_retrieve(id)
        if intent.status in ("requires_payment_method", "requires_action"):
            intent.latest_charge = None
            intent.next_action = None
    return resources.StripeObject._api_update.__func__(cls, id, **data)


def _newest_first(list_all: Any) -> Any:
    def listed(cls: Any, /, *args: Any, **kwargs: Any) -> Any:
        # The store keeps creation order; `starting_after` counts positions in this order.
        page = list_all(cls, *args, **kwargs)
        page._list.reverse()
        return page

    return classmethod(listed)
