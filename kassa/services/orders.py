"""Orders: what host apps sell, and paying for them with one PaymentIntent at a time."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tortoise import connections
from tortoise.exceptions import IntegrityError

from kassa.models import Order, OrderStatus, Organization, Payment, PaymentPurpose, PaymentStatus
from kassa.services import organizations, payments, saved_cards
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller
from kassa.services.pagination import Page, paginate
from kassa.services.stripe_gateway import StripeGateway

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}")
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
    if request.customer_email is not None and not EMAIL.fullmatch(request.customer_email):
        raise DomainError(ErrorCode.INVALID_INPUT, "not an email address", "customerEmail")
    if len(request.notify_emails) > MAX_NOTIFY_EMAILS or not all(
        EMAIL.fullmatch(email) for email in request.notify_emails
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
    """One PaymentIntent per attempt: concurrent calls wait for each other and share it."""
    order = await visible_order(caller, order_id)
    if order is None:
        raise not_found("order", "orderId")
    # Resolved before the attempt starts: a card that is not the organization's creates nothing.
    payment_method_id = await saved_cards.stripe_payment_method(
        order.organization, payment_method_id
    )
    async with _one_at_a_time(f"kassa:pay_order:{order.id}"):
        await order.refresh_from_db(fields=["status"])
        if order.status.is_paid:
            raise DomainError(ErrorCode.ALREADY_PAID, "this order is already paid", "orderId")
        payment = await _open_payment(order) or await _new_attempt(order, gateway, caller)
        card = payment_method_id or await payments.default_card_id(order.organization)
        return await payments.attach_payment_intent(payment, order.organization, gateway, card)


async def _new_attempt(order: Order, gateway: StripeGateway, caller: Caller) -> Payment:
    """A new payment for the order; earlier declined intents are cancelled at Stripe first,
    so a customer's other tab cannot pay the order a second time through one of them."""
    for earlier in await Payment.filter(
        order=order, status=PaymentStatus.FAILED, stripe_payment_intent_id__isnull=False
    ):
        await payments.cancel_quietly(gateway, earlier.stripe_payment_intent_id or "")
    return await order_payment(order, caller)


async def order_payment(order: Order, caller: Caller) -> Payment:
    """A new payment for the whole order, its receipt going to the order's customer."""
    return await Payment.create(
        organization=order.organization,
        purpose=PaymentPurpose.ORDER,
        order=order,
        amount=order.amount,
        currency=order.currency,
        created_by=caller.user_id,
        receipt_email=order.customer_email,
    )


@asynccontextmanager
async def _one_at_a_time(name: str) -> AsyncIterator[None]:
    # A session-level advisory lock held on a pool connection of its own. Not a transaction:
    # the work inside commits as it goes (a declined card must stay recorded), and the
    # lock holds no row, so those writes cannot deadlock with it.
    async with connections.get("default").acquire_connection() as connection:
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", name)
        try:
            yield
        finally:
            await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", name)


async def _open_payment(order: Order) -> Payment | None:
    return (
        await Payment.filter(order=order, status__in=payments.OPEN_STATUSES)
        .order_by("-created_at")
        .first()
    )


async def by_id(order_id: uuid.UUID) -> Order | None:
    return await Order.get_or_none(id=order_id)


async def order_payments(order: Order) -> list[Payment]:
    return await Payment.filter(order=order).order_by("created_at")


async def organization_orders(
    organization: Organization, first: int | None, after: str | None, status: OrderStatus | None
) -> Page[Order]:
    query = Order.filter(organization=organization)
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, first, after)
