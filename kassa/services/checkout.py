"""Paying an order on Stripe Checkout's hosted page, and the success page's status check.

A session's state is applied through the same path as a PaymentIntent's: it is read into
the intent-shaped snapshot `apply_payment_intent` takes, so the order, ledger, mail and
notifications follow it exactly as they follow a card payment.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.models import Organization, Payment, PaymentStatus
from kassa.services import credits, orders, organizations, payments, receipts, stripe_calls
from kassa.services.addresses import is_usable_url
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller
from kassa.services.receipts import Receipt
from kassa.services.stripe_gateway import CheckoutSnapshot, StripeFailure, StripeGateway

log = logging.getLogger(__name__)

# Stripe's ids are far shorter; the column holds 255.
MAX_SESSION_ID_LENGTH = 255


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
        sale = await _order_sale(caller, gateway, request.order_id)
    else:
        sale = await _credit_sale(caller, request, expiry_days)
    async with stripe_calls.one_at_a_time(sale.payment.id):
        session = await _create_session(gateway, sale, request)
        await _attach_session(gateway, sale.payment, session)
    return CheckoutStarted(await Payment.get(id=sale.payment.id), session.id, session.url or "")


async def _attach_session(
    gateway: StripeGateway, payment: Payment, session: CheckoutSnapshot
) -> None:
    """Written under the claim, and never onto an attempt retired meanwhile (the customer
    would pay a session kassa no longer follows): such a session is expired instead."""
    attached = await (
        Payment.filter(id=payment.id)
        .exclude(status=PaymentStatus.CANCELED)
        .update(stripe_checkout_session_id=session.id)
    )
    if attached:
        return
    try:
        await gateway.expire_checkout_session(session.id)
    except StripeFailure as exc:
        log.warning(
            "could not expire Checkout Session %s of a retired attempt: %s", session.id, exc
        )
    raise DomainError(
        ErrorCode.INVALID_STATE, "a newer attempt at paying this order replaced this one"
    )


async def _create_session(
    gateway: StripeGateway, sale: _Sale, request: CheckoutRequest
) -> CheckoutSnapshot:
    payment = sale.payment
    await payment.refresh_from_db()
    if payment.status is PaymentStatus.CANCELED:
        raise DomainError(
            ErrorCode.INVALID_STATE, "a newer attempt at paying this order replaced this one"
        )
    try:
        return await gateway.create_checkout_session(
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
        if exc.refused:
            await payments.fail_unstarted(payment, exc)
        raise payments.provider_error(exc) from exc


async def _order_sale(caller: Caller, gateway: StripeGateway, order_id: uuid.UUID | None) -> _Sale:
    order = await orders.visible_order(caller, order_id)
    if order is None:
        raise not_found("order", "orderId")
    attempt = await orders.open_attempt(order, caller, via_checkout=True)
    await orders.retire(gateway, attempt.retired)
    payment = attempt.payment
    name = order.description or order.reference or "Order"
    return _Sale(payment, order.organization, name)


async def _credit_sale(caller: Caller, request: CheckoutRequest, expiry_days: int) -> _Sale:
    organization = await organizations.require_visible(caller, request.organization_id)
    package = await credits.package_on_sale(request.credit_package or "", "creditPackage")
    payment = await payments.new_credit_payment(
        caller, organization, package, expiry_days, None, via_checkout=True
    )
    name = f"{package.name}: {package.credits} credits"
    return _Sale(payment, organization, name)


def _check_url(url: str, field: str) -> None:
    if not is_usable_url(url):
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
    await payments.apply_checkout_session_to(conn, payment, session, event_type, observed_at)
    return payment


async def checkout_status(
    caller: Caller, gateway: StripeGateway, session_id: str
) -> tuple[Payment, CheckoutSnapshot | None] | None:
    """The success page's check: if the webhook is late, ask Stripe and apply its answer."""
    payment = await _session_payment(session_id)
    if payment is None or not organizations.can_view(caller, payment.organization):
        return None
    if payment.status.is_final:
        return payment, None
    return await _asked_stripe(gateway, payment, session_id)


async def session_receipt(
    gateway: StripeGateway, session_id: str, *, ask_stripe: bool
) -> Receipt | None:
    """`checkout_status` for anyone holding the session id (Stripe hands it to the success
    page): kassa's record, brought up to date from Stripe when `ask_stripe` and the webhook
    is late, told only as Stripe's receipt tells it. None for a session kassa did not make."""
    payment = await _session_payment(session_id)
    if payment is None:
        return None
    if ask_stripe and not payment.status.is_final:
        payment, _ = await _asked_stripe(gateway, payment, session_id)
    return await receipts.receipt_of(payment)


async def _session_payment(session_id: str) -> Payment | None:
    if "\x00" in session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        return None  # no session's id holds one (and PostgreSQL text cannot)
    return await Payment.get_or_none(stripe_checkout_session_id=session_id).prefetch_related(
        "organization"
    )


async def _asked_stripe(
    gateway: StripeGateway, payment: Payment, session_id: str
) -> tuple[Payment, CheckoutSnapshot | None]:
    try:
        session = await gateway.retrieve_checkout_session(session_id)
    except StripeFailure:
        return payment, None  # kassa's record is the best answer there is
    async with in_transaction() as conn:
        await apply_checkout_session(conn, session, None, datetime.now(UTC).replace(microsecond=0))
    return await Payment.get(id=payment.id), session
