"""What a caller may do to a payment under way: confirm it with a card, or cancel it."""

from __future__ import annotations

import uuid

from kassa.models import Order, OrderStatus, Payment, PaymentStatus
from kassa.services import payments, saved_cards, stripe_calls
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller
from kassa.services.stripe_gateway import StripeFailure, StripeGateway

CONFIRMABLE = (PaymentStatus.REQUIRES_PAYMENT_METHOD, PaymentStatus.REQUIRES_CONFIRMATION)
PAID_ORDER = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


async def _payment_under_way(caller: Caller, payment_id: uuid.UUID | None) -> Payment:
    payment = await payments.visible_payment(caller, payment_id)
    if payment is None:
        raise not_found("payment", "paymentId")
    if payment.status.is_final or payment.stripe_payment_intent_id is None:
        raise DomainError(
            ErrorCode.INVALID_STATE, f"the payment is {payment.status.value}", "paymentId"
        )
    return payment


async def confirm_payment(
    caller: Caller,
    gateway: StripeGateway,
    payment_id: uuid.UUID | None,
    payment_method_id: str | None,
) -> Payment:
    """Confirm on the server with a saved or given card; a decline is CARD_DECLINED."""
    payment = await _payment_under_way(caller, payment_id)
    order_id = payment.order_id  # type: ignore[attr-defined]
    if order_id and await Order.filter(id=order_id, status__in=PAID_ORDER).exists():
        raise DomainError(ErrorCode.ALREADY_PAID, "its order is already paid", "paymentId")
    if payment.status not in CONFIRMABLE and payment.status is not PaymentStatus.FAILED:
        raise DomainError(
            ErrorCode.INVALID_STATE, f"the payment is {payment.status.value}", "paymentId"
        )
    async with stripe_calls.one_at_a_time(payment.id):
        await _confirm(payment, gateway, payment_method_id)
    return await Payment.get(id=payment.id)


async def _confirm(payment: Payment, gateway: StripeGateway, payment_method_id: str | None) -> None:
    intent_id = payment.stripe_payment_intent_id or ""
    card = await saved_cards.stripe_payment_method(payment.organization, payment_method_id)
    try:
        if card:
            intent = await gateway.set_payment_method(intent_id, card)
            await payments.record_payment_intent(payment.id, intent)
        intent = await gateway.retrieve_payment_intent(intent_id)
        if intent.status != "requires_confirmation":
            raise DomainError(
                ErrorCode.INVALID_STATE,
                "the payment has no card to confirm with",
                "paymentMethodId",
            )
        await payments.confirm_intent(payment, intent, gateway)
    except StripeFailure as exc:
        raise payments.provider_error(exc) from exc


async def cancel_payment(
    caller: Caller, gateway: StripeGateway, payment_id: uuid.UUID | None
) -> Payment:
    payment = await _payment_under_way(caller, payment_id)
    async with stripe_calls.one_at_a_time(payment.id):
        try:
            intent = await gateway.cancel_payment_intent(payment.stripe_payment_intent_id or "")
        except StripeFailure as exc:
            raise payments.provider_error(exc) from exc
        await payments.record_payment_intent(payment.id, intent)
    return await Payment.get(id=payment.id)
