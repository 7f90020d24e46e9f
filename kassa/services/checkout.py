"""Paying an order on Stripe Checkout's hosted page, and the success page's status check.

A session's state is applied through the same path as a PaymentIntent's: it is read into
the intent-shaped snapshot `apply_payment_intent` takes, so the order, ledger, mail and
notifications follow it exactly as they follow a card payment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.models import Organization, Payment
from kassa.services import credits, orders, organizations, payments
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller
from kassa.services.stripe_gateway import (
    CheckoutSnapshot,
    PaymentIntentSnapshot,
    StripeFailure,
    StripeGateway,
)


class UnknownCheckoutSession(Exception):
    """An event for a Checkout Session kassa has no payment for (yet)."""


@dataclass(frozen=True, slots=True)
class CheckoutStarted:
    payment: Payment
    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    success_url: str
    cancel_url: str
    # An order was named (its id may still be one that names nothing).
    for_order: bool = False
    order_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    credit_package: str | None = None


@dataclass(frozen=True, slots=True)
class _Sale:
    """What a Checkout Session sells: the payment and its line's name."""

    payment: Payment
    organization: Organization
    name: str


async def start_checkout(
    caller: Caller, gateway: StripeGateway, request: CheckoutRequest, expiry_days: int
) -> CheckoutStarted:
    _check_url(request.success_url, "successUrl")
    _check_url(request.cancel_url, "cancelUrl")
    if request.for_order == (request.credit_package is not None):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "give either orderId or creditPackage", "creditPackage"
        )
    if request.for_order:
        sale = await _order_sale(caller, request.order_id)
    else:
        sale = await _credit_sale(caller, request, expiry_days)
    payment = sale.payment
    try:
        session = await gateway.create_checkout_session(
            payment_key=str(payment.id),
            amount=payment.amount,
            currency=payment.currency,
            name=sale.name,
            customer_id=await organizations.stripe_customer(sale.organization, gateway),
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            # On the session and, through `payment_intent_data`, on the intent Stripe makes
            # for it: a missed `checkout.session.*` event can then be recovered from the intent.
            metadata=payments.intent_metadata(payment),
        )
    except StripeFailure as exc:
        await payments.fail_unstarted(payment, exc)
        raise payments.provider_error(exc) from exc
    await Payment.filter(id=payment.id).update(stripe_checkout_session_id=session.id)
    await payment.refresh_from_db()
    return CheckoutStarted(payment, session.id, session.url or "")


async def _order_sale(caller: Caller, order_id: uuid.UUID | None) -> _Sale:
    order = await orders.visible_order(caller, order_id)
    if order is None:
        raise not_found("order", "orderId")
    if order.status.is_paid:
        raise DomainError(ErrorCode.ALREADY_PAID, "this order is already paid", "orderId")
    payment = await orders.order_payment(order, caller)
    name = order.description or order.reference or "Order"
    return _Sale(payment, order.organization, name)


async def _credit_sale(caller: Caller, request: CheckoutRequest, expiry_days: int) -> _Sale:
    organization = await organizations.require_visible(caller, request.organization_id)
    package = await credits.package_on_sale(request.credit_package or "", "creditPackage")
    payment = await payments.new_credit_payment(caller, organization, package, expiry_days, None)
    name = f"{package.name}: {package.credits} credits"
    return _Sale(payment, organization, name)


def _check_url(url: str, field: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} is an http(s) URL", field)


async def apply_checkout_session(
    conn: BaseDBAsyncClient,
    session: CheckoutSnapshot,
    event_type: str | None,
    observed_at: datetime,
) -> Payment:
    payment = (
        await Payment.select_for_update(no_key=True)
        .using_db(conn)
        .get_or_none(stripe_checkout_session_id=session.id)
    )
    if payment is None:
        raise UnknownCheckoutSession(f"no payment for Checkout Session {session.id}")
    if session.payment_intent_id and payment.stripe_payment_intent_id is None:
        # From now on the intent's own events find this payment too.
        payment.stripe_payment_intent_id = session.payment_intent_id
    await payments.apply_payment_intent(
        conn, payment, _as_intent(payment, session, event_type), observed_at
    )
    return payment


def _as_intent(
    payment: Payment, session: CheckoutSnapshot, event_type: str | None
) -> PaymentIntentSnapshot:
    failed = event_type == "checkout.session.async_payment_failed"
    if session.status == "expired":
        status = "canceled"
    elif session.status == "complete" and session.payment_status == "paid":
        status = "succeeded"
    elif session.status == "complete" and not failed:
        status = "processing"  # a delayed method (a bank debit) is still on its way
    else:
        status = "requires_payment_method"
    return PaymentIntentSnapshot(
        id=session.payment_intent_id or session.id,
        status=status,
        amount=session.amount_total if session.amount_total is not None else payment.amount,
        amount_received=None,
        currency=session.currency or payment.currency,
        client_secret=None,
        charge_id=None,
        payment_method_id=None,
        card=None,
        failure_code="async_payment_failed" if failed else None,
        failure_message="the delayed payment failed" if failed else None,
        metadata={},
        created=None,
    )


async def checkout_status(
    caller: Caller, gateway: StripeGateway, session_id: str
) -> tuple[Payment, CheckoutSnapshot | None] | None:
    """The success page's check: if the webhook is late, ask Stripe and apply its answer."""
    payment = await Payment.get_or_none(stripe_checkout_session_id=session_id).prefetch_related(
        "organization"
    )
    if payment is None or not organizations.can_view(caller, payment.organization):
        return None
    if payment.status.is_final:
        return payment, None
    try:
        session = await gateway.retrieve_checkout_session(session_id)
    except StripeFailure:
        return payment, None  # kassa's record is the best answer there is
    async with in_transaction() as conn:
        await apply_checkout_session(conn, session, None, datetime.now(UTC).replace(microsecond=0))
    return await Payment.get(id=payment.id), session
