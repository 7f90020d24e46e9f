"""Signed links to kassa's own payment page, `/pay/<token>`: one payment each, expiring.

A token is `<payment id>.<expiry, Unix seconds>.<signature>`, the signature an HMAC-SHA256
over the purpose and both fields with a key kept for these links alone (KASSA_LINK_SECRET,
else one derived from KASSA_JWT_SECRET), so a token pays that one payment until it expires
and is good for nothing else. Whoever holds it sees what Stripe's receipt would show and
may pay with a card of their own, never with the organization's saved cards.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from kassa.config import ConfigurationError, Settings
from kassa.ids import kind_of
from kassa.models import Order, OrderStatus, Payment, PaymentStatus, SavedCard
from kassa.services import payments, signed_links
from kassa.services.errors import DomainError, ErrorCode, check_storable
from kassa.services.signed_links import InvalidLink, check_expiry, check_signature
from kassa.services.stripe_gateway import StripeFailure, StripeGateway

PURPOSE = b"kassa pay link v1"
PAID_ORDER = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


def signing_key(settings: Settings) -> bytes | None:
    """The pay links' key; None when neither KASSA_LINK_SECRET nor KASSA_JWT_SECRET is set."""
    return signed_links.signing_key(settings, PURPOSE)


def mint(key: bytes, payment_id: uuid.UUID, expires_at: int) -> str:
    fields = f"{payment_id.hex}.{expires_at}"
    return f"{fields}.{signed_links.signature(key, PURPOSE, fields)}"


def link_path(settings: Settings, payment_id: uuid.UUID, *, now: float | None = None) -> str:
    """The path of the payment page for `payment_id` (prefix KASSA_PUBLIC_URL for a mail)."""
    key = signing_key(settings)
    if key is None:
        raise ConfigurationError("set KASSA_LINK_SECRET (or KASSA_JWT_SECRET) to sign pay links")
    lifetime = timedelta(days=settings.pay_link_days).total_seconds()
    expires_at = int((now if now is not None else time.time()) + lifetime)
    return f"/pay/{mint(key, payment_id, expires_at)}"


def payment_named(key: bytes, token: str, *, now: float | None = None) -> uuid.UUID:
    """The payment a token names, once its signature and expiry are checked."""
    fields, _, signature = token.rpartition(".")
    payment_hex, _, expires_text = fields.partition(".")
    check_signature(key, PURPOSE, fields, signature)
    try:
        payment_id, expires_at = uuid.UUID(hex=payment_hex), int(expires_text)
    except ValueError as exc:  # only with a leaked key: the fields were signed as they are
        raise InvalidLink("the link names no payment") from exc
    check_expiry(expires_at, now=now)
    return payment_id


async def linked_payment(payment_id: uuid.UUID) -> Payment | None:
    return await Payment.get_or_none(id=payment_id).prefetch_related("organization")


async def require_payable(payment: Payment) -> None:
    """A payment the link may still pay: under way or failed, not paid through Checkout,
    and not for an order another attempt has paid meanwhile."""
    if payment.status is PaymentStatus.SUCCEEDED:
        raise DomainError(ErrorCode.ALREADY_PAID, "This payment is complete.")
    if payment.status is PaymentStatus.CANCELED:
        raise DomainError(ErrorCode.INVALID_STATE, "This payment was canceled.")
    if payment.via_checkout:
        raise DomainError(ErrorCode.INVALID_STATE, "This payment is made on Stripe Checkout.")
    order_id = payment.order_id  # type: ignore[attr-defined]
    if order_id and await Order.filter(id=order_id, status__in=PAID_ORDER).exists():
        raise DomainError(ErrorCode.ALREADY_PAID, "This order is already paid.")


async def card_setup(gateway: StripeGateway, payment: Payment) -> str:
    """A SetupIntent's client secret for collecting the payer's card, saved for no one."""
    await require_payable(payment)
    try:
        _, secret = await gateway.create_setup_intent(
            setup_key=str(uuid.uuid4()),
            customer_id=None,
            metadata={"kassa_payment_id": str(payment.id)},
        )
    except StripeFailure as exc:
        raise payments.provider_error(exc) from exc
    return secret


async def pay(
    gateway: StripeGateway, payment: Payment, payment_method_id: str
) -> payments.PaymentIntentCreated:
    """Pay with the card the payer just entered; confirmed on the server, as `topUpWallet`
    with a paymentMethodId is (`requires_action` leaves 3-D Secure to Stripe.js)."""
    await require_payable(payment)
    await _check_own_card(payment_method_id)
    # Before Stripe hears of the card: a decline is shown here, and must not be mailed.
    await Payment.filter(id=payment.id).update(pay_page_payment_method_id=payment_method_id)
    return await payments.attach_payment_intent(
        payment, payment.organization, gateway, payment_method_id
    )


async def _check_own_card(payment_method_id: str) -> None:
    check_storable(payment_method_id, "paymentMethodId")
    if not payment_method_id or kind_of(payment_method_id) is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "paymentMethodId is a card from Stripe.js", "paymentMethodId"
        )
    if await SavedCard.filter(stripe_payment_method_id=payment_method_id).exists():
        # Someone's saved card: a link holder pays with their own, never with those.
        raise DomainError(ErrorCode.NOT_FOUND, "no such payment method", "paymentMethodId")


async def refreshed(gateway: StripeGateway, payment: Payment) -> Payment:
    """The payment, asking Stripe first when it is under way (its webhook may be late)."""
    if payment.status.is_final or not payment.stripe_payment_intent_id:
        return payment
    try:
        intent = await gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    except StripeFailure:
        return payment  # kassa's record is the best answer there is
    await payments.record_payment_intent(payment.id, intent)
    return await Payment.get(id=payment.id).prefetch_related("organization")
