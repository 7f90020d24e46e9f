"""Events Stripe sends that localstripe does not (demo and tests only).

localstripe sends `payment_intent.*` and `customer.*` events but is silent when a card is
saved, attached, detached or refunded. Stripe is not: confirming a SetupIntent for a
customer attaches its card (`payment_method.attached`, `setup_intent.succeeded`), detaching
says so (`payment_method.detached`) and a refund sends `charge.refunded` and
`refund.created`. This module wraps localstripe's calls to send them, through localstripe's
own sender (signed as Stripe signs, about a second later), and gives the server Stripe's
webhook endpoints API. It runs inside the child process only (see stripe_server.py).

`install()` must run before `localstripe.server` is imported: the server binds its routes
for attach, detach and confirm to the functions it finds at import time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import (
    Charge,
    Event,
    PaymentIntent,
    PaymentMethod,
    Refund,
    SetupIntent,
    StripeObject,
    store,
)
from localstripe.webhooks import register_webhook, schedule_webhook

# The SetupIntent the local hosted Checkout page makes to collect a card is a detail of
# that page: Stripe's own page shows the merchant no such object, so it sends no events.
HOSTED_PAGE_MARK = "checkout_session"


def send(event_type: str, obj: Any) -> None:
    """Through localstripe's own sender: signed as Stripe signs, about a second later."""
    event = Event(event_type, obj)
    event.pending_webhooks = 1
    event.request = {"id": None, "idempotency_key": None}
    schedule_webhook(event)


def stamp_api_version(version: str) -> None:
    """Events carry the API version they are written in; localstripe's say 2017-08-15
    whatever shape they have. Here they say the version the server was started with."""
    original = Event.__init__

    def init(self: Any, type: str, data: Any) -> None:
        original(self, type, data)
        self.api_version = version

    Event.__init__ = init


def _confirm_setup_intent(original: Callable[..., Any]) -> Callable[..., Any]:
    def confirm(**params: Any) -> Any:
        try:
            intent = original(**params)
        except UserError:
            failed = store.get(f"setup_intent:{params.get('id')}")
            if failed is not None and not _on_hosted_page(failed):
                send("setup_intent.setup_failed", failed)
            raise
        if _on_hosted_page(intent):
            return intent
        if intent.status == "succeeded":
            _attach_to_customer(intent)
            send("setup_intent.succeeded", intent)
        elif intent.status == "requires_action":
            send("setup_intent.requires_action", intent)
        return intent

    return confirm


def _on_hosted_page(intent: Any) -> bool:
    return HOSTED_PAGE_MARK in (intent.metadata or {})


def _attach_to_customer(intent: Any) -> None:
    """Stripe attaches a SetupIntent's card to its customer; localstripe does not."""
    if intent.customer is None or intent.payment_method is None:
        return
    method = PaymentMethod._api_retrieve(intent.payment_method)
    if method.customer != intent.customer:
        method.customer = intent.customer
        send("payment_method.attached", method)


def _attach(original: Callable[..., Any]) -> Callable[..., Any]:
    def attach(**params: Any) -> Any:
        method = original(**params)
        send("payment_method.attached", method)
        return method

    return attach


def _detach(original: Callable[..., Any]) -> Callable[..., Any]:
    def detach(**params: Any) -> Any:
        method = original(**params)
        send("payment_method.detached", method)
        return method

    return detach


def _create_refund(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(**params: Any) -> Any:
        refund = original(**params)
        charge = Charge._api_retrieve(refund.charge)
        # Since API version 2022-11-15 a charge no longer lists its refunds.
        exported = charge._export()
        exported.pop("refunds", None)
        send("charge.refunded", _Exported(exported))
        send("refund.created", refund)
        return refund

    return create


class _Exported:
    """An object already in its API shape, for `Event`, which exports what it is given."""

    def __init__(self, exported: dict[str, Any]) -> None:
        self._exported = exported

    def _export(self) -> dict[str, Any]:
        return self._exported


# Stripe's test cards that decline a charge, with the reason Stripe gives (decline_code);
# localstripe declines only 0341 (attached fine, declined when charged), with no reason.
DECLINING_CARDS = {
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
}


def _decline_like_stripe() -> None:
    charging_is_declined = PaymentMethod._charging_is_declined

    def declined(method: Any) -> bool:
        number = getattr(method, "_card_number", None)
        return bool(charging_is_declined(method)) or number in DECLINING_CARDS

    PaymentMethod._charging_is_declined = declined
    last_payment_error = PaymentIntent.last_payment_error.fget

    def with_decline_code(intent: Any) -> Any:
        error = last_payment_error(intent)
        if error and error.get("code") == "card_declined" and intent.payment_method:
            method = PaymentMethod._api_retrieve(intent.payment_method)
            reason = DECLINING_CARDS.get(getattr(method, "_card_number", ""))
            if reason is not None:
                error["decline_code"] = reason
        return error

    PaymentIntent.last_payment_error = property(with_decline_code)


class WebhookEndpoint(StripeObject):  # type: ignore[misc]
    """Stripe's webhook endpoint: where events go, which ones, signed with its secret."""

    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(
        self,
        url: str | None = None,
        enabled_events: list[str] | None = None,
        api_version: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise UserError(400, f"Received unknown parameter: {next(iter(unknown))}")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UserError(400, "Invalid URL: url", {"param": "url"})
        if not isinstance(enabled_events, list) or not enabled_events:
            raise UserError(400, "Missing required param: enabled_events.")
        super().__init__()
        self.url = url
        self.enabled_events = [str(name) for name in enabled_events]
        self.api_version = api_version
        self.description = description
        self.metadata = metadata or {}
        self.status = "enabled"
        self.secret = "whsec_" + secrets.token_hex(24)
        self._listen()

    def _listen(self) -> None:
        events = None if "*" in self.enabled_events else self.enabled_events
        register_webhook(self.id, self.url, self.secret, events)

    @classmethod
    def _api_retrieve(cls, id: str) -> Any:
        # Stripe shows the secret only in the answer that created the endpoint.
        return WebhookEndpointView(super()._api_retrieve(id))


class WebhookEndpointView:
    """An endpoint as Stripe shows it after creation: everything but the secret."""

    def __init__(self, endpoint: WebhookEndpoint) -> None:
        self._endpoint = endpoint

    def _export(self, expand: Any = None) -> dict[str, Any]:
        exported: dict[str, Any] = self._endpoint._export(expand=expand)
        exported.pop("secret", None)
        return exported


def listen_to_kept_endpoints() -> None:
    """After a restart from kept state: endpoints created earlier receive events again."""
    for key, value in list(store.items()):
        if key.startswith("webhook_endpoint:"):
            value._listen()


def install() -> None:
    """Wrap localstripe's calls; before `localstripe.server` is imported."""
    wrapped = {
        SetupIntent._api_confirm: _confirm_setup_intent(SetupIntent._api_confirm),
        PaymentMethod._api_attach: _attach(PaymentMethod._api_attach),
        PaymentMethod._api_detach: _detach(PaymentMethod._api_detach),
    }
    resources.extra_apis[:] = [
        (method, url, wrapped.get(func, func)) for method, url, func in resources.extra_apis
    ]
    Refund._api_create = _create_refund(Refund._api_create)
    _decline_like_stripe()


def add_routes(app: Any) -> None:
    import localstripe.server

    url = "/v1/webhook_endpoints"
    app.router.add_post(url, localstripe.server.api_create(WebhookEndpoint, url))
    app.router.add_get(url + "/{id}", localstripe.server.api_retrieve(WebhookEndpoint, url))
