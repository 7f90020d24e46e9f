"""Orders: what host apps sell, and paying for them with one payable attempt at a time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from kassa.models import Order, OrderStatus, Organization, Payment, PaymentPurpose, PaymentStatus
from kassa.services import organizations, payments, saved_cards, stripe_calls
from kassa.services.addresses import check_email, is_email
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller
from kassa.services.pagination import Page, paginate
from kassa.services.stripe_gateway import StripeFailure, StripeGateway

log = logging.getLogger(__name__)

MAX_NOTIFY_EMAILS = 10


@dataclass(frozen=True, slots=True)
class NewOrder:
    organization_id: uuid.UUID | None
    amount: str
    currency: str
    reference: str | None = None
    description: str | None = None
    customer_email: str | None = None
    notify_emails: list[str] = field(default_factory=list)


async def create_order(caller: Caller, request: NewOrder) -> Order:
    organization = await organizations.require_visible(caller, request.organization_id)
    money = payments.charge_amount(request.amount, request.currency)
    _check_order_text(request)
    try:
        return await Order.create(
            organization=organization,
            reference=request.reference,
            description=request.description,
            amount=money.minor,
            currency=money.currency,
            customer_email=request.customer_email,
            notify_emails=request.notify_emails,
            created_by=caller.user_id,
        )
    except IntegrityError:
        return await _same_order(organization, request, money.minor, money.currency)


async def _same_order(
    organization: Organization, request: NewOrder, amount: int, currency: str
) -> Order:
    """A host retrying createOrder with its reference gets the order it already made."""
    existing = await Order.get(organization=organization, reference=request.reference)
    if (existing.amount, existing.currency) != (amount, currency):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "an order with this reference exists with another amount",
            "reference",
        )
    return existing


def _check_order_text(request: NewOrder) -> None:
    _check_length(request.reference, 255, "reference")
    _check_length(request.description, 1000, "description")
    check_email(request.customer_email, "customerEmail")
    if len(request.notify_emails) > MAX_NOTIFY_EMAILS or not all(
        is_email(email) for email in request.notify_emails
    ):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"notifyEmails are at most {MAX_NOTIFY_EMAILS} email addresses",
            "notifyEmails",
        )


def _check_length(text: str | None, limit: int, name: str) -> None:
    if text is not None and (not text.isprintable() or not 0 < len(text) <= limit):
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{name} is 1 to {limit} printable characters", name
        )


async def visible_order(caller: Caller, order_id: uuid.UUID | None) -> Order | None:
    if order_id is None:
        return None
    order = await Order.get_or_none(id=order_id).prefetch_related("organization")
    if order is None or not organizations.can_view(caller, order.organization):
        return None
    return order


async def pay_order(
    caller: Caller,
    gateway: StripeGateway,
    order_id: uuid.UUID | None,
    payment_method_id: str | None = None,
) -> payments.PaymentIntentCreated:
    """One payable attempt per order: concurrent calls share it, earlier ones are retired."""
    order = await visible_order(caller, order_id)
    if order is None:
        raise not_found("order", "orderId")
    # Resolved before the attempt starts: a card that is not the organization's creates nothing.
    payment_method_id = await saved_cards.stripe_payment_method(
        order.organization, payment_method_id
    )
    attempt = await open_attempt(order, caller, via_checkout=False)
    await retire(gateway, attempt.retired)
    card = payment_method_id or await payments.default_card_id(order.organization)
    return await payments.attach_payment_intent(attempt.payment, order.organization, gateway, card)


@dataclass(frozen=True, slots=True)
class Attempt:
    """The payment to go on with, and earlier attempts to stop at Stripe before it."""

    payment: Payment
    retired: list[Payment]


async def open_attempt(order: Order, caller: Caller, *, via_checkout: bool) -> Attempt:
    """Under the order's row lock, for as long as two statements take: the open
    PaymentIntent attempt is shared; any other attempt that could still take money
    (an open Checkout Session, an intent that can be retried with another card) is retired.
    A Checkout attempt is always new: each session carries its own return URLs."""
    async with in_transaction() as conn:
        locked = await Order.select_for_update(no_key=True).using_db(conn).get(id=order.id)
        if locked.status.is_paid:
            raise DomainError(ErrorCode.ALREADY_PAID, "this order is already paid", "orderId")
        live = await _live_attempts(conn, locked)
        reusable = None if via_checkout else _open_intent_attempt(live)
        payment = reusable or await order_payment(order, caller, conn, via_checkout=via_checkout)
        return Attempt(payment, [earlier for earlier in live if earlier is not reusable])


async def _live_attempts(conn: BaseDBAsyncClient, order: Order) -> list[Payment]:
    """Attempts a customer could still pay: open ones, and declined intents (Stripe lets
    a declined PaymentIntent be confirmed again with another card)."""
    return await _live(order.id).using_db(conn)


def _live(order_id: uuid.UUID) -> QuerySet[Payment]:
    return (
        Payment.filter(order_id=order_id)
        .filter(
            Q(status__in=payments.OPEN_STATUSES)
            | Q(status=PaymentStatus.FAILED, stripe_payment_intent_id__isnull=False)
        )
        .order_by("-created_at")
    )


async def retire_once_paid(order_id: uuid.UUID, gateway: StripeGateway) -> None:
    """A paid order's other attempts are stopped, so nobody pays it twice (a job the
    order's payment leaves in the outbox)."""
    await retire(gateway, list(await _live(order_id)))


def _open_intent_attempt(live: list[Payment]) -> Payment | None:
    return next(
        (p for p in live if not p.via_checkout and p.status in payments.OPEN_STATUSES), None
    )


async def retire(gateway: StripeGateway, attempts: list[Payment]) -> None:
    """Stop earlier attempts at Stripe, each under its own Stripe-call claim so a request
    still creating one finishes first. A retired attempt that succeeded meanwhile is
    booked as a duplicate payment of its order and refunded (see `payments`)."""
    for attempt in attempts:
        async with stripe_calls.one_at_a_time(attempt.id):
            await attempt.refresh_from_db()
            await _stop_at_stripe(gateway, attempt)


async def _stop_at_stripe(gateway: StripeGateway, attempt: Payment) -> None:
    try:
        if attempt.stripe_checkout_session_id and attempt.status in payments.OPEN_STATUSES:
            session = await gateway.expire_checkout_session(attempt.stripe_checkout_session_id)
            await payments.record_checkout_session(attempt.id, session)
        elif attempt.stripe_payment_intent_id and not attempt.status.is_final:
            intent = await gateway.cancel_payment_intent(attempt.stripe_payment_intent_id)
            await payments.record_payment_intent(attempt.id, intent)
        elif not (attempt.stripe_payment_intent_id or attempt.stripe_checkout_session_id):
            # Not at Stripe yet: retired here. A request still making its intent or session
            # (its claim ran out) finds it retired and withdraws what it made.
            await Payment.filter(
                id=attempt.id,
                stripe_payment_intent_id__isnull=True,
                stripe_checkout_session_id__isnull=True,
                status=PaymentStatus.REQUIRES_PAYMENT_METHOD,
            ).update(status=PaymentStatus.CANCELED)
    except StripeFailure as exc:
        # Already paid, expired or cancelled at Stripe: its own event tells kassa which.
        log.warning("could not retire payment %s at Stripe: %s", attempt.id, exc)


async def order_payment(
    order: Order, caller: Caller, conn: BaseDBAsyncClient, *, via_checkout: bool = False
) -> Payment:
    """A new payment for the whole order, its receipt going to the order's customer."""
    return await Payment.create(
        using_db=conn,
        organization_id=order.organization_id,  # type: ignore[attr-defined]
        purpose=PaymentPurpose.ORDER,
        order_id=order.id,
        amount=order.amount,
        currency=order.currency,
        created_by=caller.user_id,
        receipt_email=order.customer_email,
        via_checkout=via_checkout,
    )


async def by_id(order_id: uuid.UUID) -> Order | None:
    return await Order.get_or_none(id=order_id)


async def order_payments(order: Order) -> list[Payment]:
    return await Payment.filter(order=order).order_by("created_at")


async def by_ids(keys: Sequence[uuid.UUID]) -> list[Order | None]:
    """Orders by id in the order asked, for a per-request DataLoader."""
    found = {order.id: order for order in await Order.filter(id__in=list(keys))}
    return [found.get(key) for key in keys]


async def payments_of_orders(keys: Sequence[uuid.UUID]) -> list[list[Payment]]:
    """Each order's payments, oldest first, in one query, for a per-request DataLoader."""
    by_order: dict[uuid.UUID, list[Payment]] = {key: [] for key in keys}
    for payment in await Payment.filter(order_id__in=list(keys)).order_by("created_at", "id"):
        by_order[payment.order_id].append(payment)  # type: ignore[attr-defined]
    return [by_order[key] for key in keys]


async def organization_orders(
    organization: Organization, first: int | None, after: str | None, status: OrderStatus | None
) -> Page[Order]:
    query = Order.filter(organization=organization)
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, first, after)
