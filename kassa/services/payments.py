"""Payments: creating PaymentIntents and applying Stripe's state to kassa's record.

Every change of a payment's state, whether it comes from a webhook event or from an object
Stripe answered with, goes through `apply_payment_intent`, inside the caller's transaction,
so the ledger transfer and the status change commit together or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from kassa.models import Organization, Payment, PaymentPurpose, PaymentStatus, TransferKind
from kassa.money import Money, MoneyError, UnsupportedCurrency
from kassa.services import ledger, organizations
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller
from kassa.services.pagination import Page, after_filter, encode_cursor, page_size
from kassa.services.stripe_gateway import PaymentIntentSnapshot, StripeFailure, StripeGateway

log = logging.getLogger(__name__)

STRIPE_STATUS = {
    "requires_payment_method": PaymentStatus.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": PaymentStatus.REQUIRES_CONFIRMATION,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PROCESSING,
    "requires_capture": PaymentStatus.PROCESSING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}


class UnknownPaymentIntent(Exception):
    """An event for a PaymentIntent kassa has no payment for (yet)."""


class PaymentMismatch(Exception):
    """Stripe reports an amount or currency that differs from kassa's record."""


@dataclass(frozen=True, slots=True)
class PaymentIntentCreated:
    payment: Payment
    client_secret: str


@dataclass(frozen=True, slots=True)
class TopUpRequest:
    organization_id: uuid.UUID | None
    amount: str
    currency: str
    payment_method_id: str | None = None
    idempotency_key: str | None = None


def charge_amount(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, currency)
    except UnsupportedCurrency as exc:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, str(exc), "currency") from exc
    except MoneyError as exc:
        raise DomainError(ErrorCode.INVALID_AMOUNT, str(exc), "amount") from exc


async def top_up_wallet(
    caller: Caller, gateway: StripeGateway, request: TopUpRequest
) -> PaymentIntentCreated:
    organization = await organizations.require_visible(caller, request.organization_id)
    money = charge_amount(request.amount, request.currency)
    payment = await _new_payment(caller, organization, PaymentPurpose.WALLET_TOP_UP, money, request)
    return await _attach_payment_intent(payment, organization, gateway, request.payment_method_id)


async def _new_payment(
    caller: Caller,
    organization: Organization,
    purpose: PaymentPurpose,
    money: Money,
    request: TopUpRequest,
) -> Payment:
    fingerprint = hashlib.sha256(
        f"{purpose}|{money.minor}|{money.currency}|{request.payment_method_id or ''}".encode()
    ).hexdigest()
    if request.idempotency_key:
        existing = await _by_idempotency_key(organization, request.idempotency_key, fingerprint)
        if existing is not None:
            return existing
    try:
        return await Payment.create(
            organization=organization,
            purpose=purpose,
            amount=money.minor,
            currency=money.currency,
            idempotency_key=request.idempotency_key,
            request_fingerprint=fingerprint,
            created_by=caller.user_id,
        )
    except IntegrityError:
        # The same idempotency key arrived twice at once: the first insert wins.
        assert request.idempotency_key is not None
        existing = await _by_idempotency_key(organization, request.idempotency_key, fingerprint)
        assert existing is not None
        return existing


async def _by_idempotency_key(
    organization: Organization, key: str, fingerprint: str
) -> Payment | None:
    existing = await Payment.get_or_none(organization=organization, idempotency_key=key)
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for a different request",
            "idempotencyKey",
        )
    return existing


async def _attach_payment_intent(
    payment: Payment,
    organization: Organization,
    gateway: StripeGateway,
    payment_method_id: str | None,
) -> PaymentIntentCreated:
    try:
        if payment.stripe_payment_intent_id:
            intent = await gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        else:
            intent = await _create_payment_intent(payment, organization, gateway, payment_method_id)
        payment = await record_payment_intent(payment, intent, gateway)
        if payment_method_id and intent.status == "requires_confirmation":
            intent = await _confirm(payment, intent, gateway)
            payment = await record_payment_intent(payment, intent, gateway)
    except StripeFailure as exc:
        raise provider_error(exc) from exc
    if not intent.client_secret:
        raise DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, "Stripe returned no client secret")
    return PaymentIntentCreated(payment, intent.client_secret)


async def _confirm(
    payment: Payment, intent: PaymentIntentSnapshot, gateway: StripeGateway
) -> PaymentIntentSnapshot:
    """Confirm with the card given by id (saved or test card); a decline is recorded first."""
    try:
        return await gateway.confirm_payment_intent(intent.id, payment_key=str(payment.id))
    except StripeFailure as exc:
        if exc.card_declined:
            declined = await gateway.retrieve_payment_intent(intent.id)
            await record_payment_intent(payment, declined, gateway)
        raise


async def _create_payment_intent(
    payment: Payment,
    organization: Organization,
    gateway: StripeGateway,
    payment_method_id: str | None,
) -> PaymentIntentSnapshot:
    customer_id = await organizations.stripe_customer(organization, gateway)
    return await gateway.create_payment_intent(
        payment_key=str(payment.id),
        amount=payment.amount,
        currency=payment.currency,
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        metadata={
            "kassa_payment_id": str(payment.id),
            "kassa_organization_id": str(organization.id),
            "kassa_purpose": payment.purpose.value,
        },
    )


async def record_payment_intent(
    payment: Payment, intent: PaymentIntentSnapshot, gateway: StripeGateway
) -> Payment:
    claimed = await Payment.filter(id=payment.id, stripe_payment_intent_id__isnull=True).update(
        stripe_payment_intent_id=intent.id
    )
    await payment.refresh_from_db()
    if not claimed and payment.stripe_payment_intent_id != intent.id:
        # A concurrent request with the same idempotency key attached its intent first;
        # a server that ignores idempotency keys may have made a second one: drop it.
        await _cancel_quietly(gateway, intent.id)
        return payment
    async with in_transaction() as conn:
        locked = await Payment.select_for_update().using_db(conn).get(id=payment.id)
        await apply_payment_intent(conn, locked, intent, stripe_created=None)
    return locked


async def _cancel_quietly(gateway: StripeGateway, intent_id: str) -> None:
    try:
        await gateway.cancel_payment_intent(intent_id)
    except StripeFailure as exc:
        log.warning("could not cancel duplicate PaymentIntent %s: %s", intent_id, exc)


def provider_error(exc: StripeFailure) -> DomainError:
    if exc.card_declined:
        return DomainError(ErrorCode.CARD_DECLINED, exc.message)
    return DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, f"Stripe: {exc.message}")


async def payment_for_intent(conn: BaseDBAsyncClient, intent_id: str) -> Payment:
    payment = (
        await Payment.select_for_update()
        .using_db(conn)
        .get_or_none(stripe_payment_intent_id=intent_id)
    )
    if payment is None:
        raise UnknownPaymentIntent(f"no payment for PaymentIntent {intent_id}")
    return payment


def target_status(intent: PaymentIntentSnapshot) -> PaymentStatus:
    # Stripe sends a failed attempt back to requires_payment_method with the error attached.
    if intent.status == "requires_payment_method" and intent.failure_code:
        return PaymentStatus.FAILED
    return STRIPE_STATUS.get(intent.status, PaymentStatus.PROCESSING)


async def apply_payment_intent(
    conn: BaseDBAsyncClient,
    payment: Payment,
    intent: PaymentIntentSnapshot,
    stripe_created: datetime | None,
) -> bool:
    """Bring a locked `payment` to the state of `intent`; False when it was stale.

    `stripe_created` is the event's Stripe time; None for objects Stripe answered with now.
    """
    status = target_status(intent)
    if _is_stale(payment, status, stripe_created):
        return False
    _check_matches(payment, intent)
    payment.status = status
    payment.stripe_charge_id = intent.charge_id or payment.stripe_charge_id
    payment.stripe_payment_method_id = intent.payment_method_id or payment.stripe_payment_method_id
    if intent.card is not None:
        _set_card(payment, intent)
    if status is PaymentStatus.FAILED:
        payment.failure_code = intent.failure_code
        payment.failure_message = (intent.failure_message or "")[:1000] or None
    if stripe_created is not None:
        payment.last_stripe_event_at = max(
            stripe_created, payment.last_stripe_event_at or stripe_created
        )
    if status is PaymentStatus.SUCCEEDED:
        await _settle(conn, payment)
    await payment.save(using_db=conn)
    return True


def _is_stale(payment: Payment, status: PaymentStatus, stripe_created: datetime | None) -> bool:
    if payment.status.is_final:
        return status is not payment.status
    last = payment.last_stripe_event_at
    older = stripe_created is not None and last is not None and stripe_created < last
    return older and not status.is_final


def _check_matches(payment: Payment, intent: PaymentIntentSnapshot) -> None:
    if intent.amount != payment.amount or intent.currency != payment.currency:
        raise PaymentMismatch(
            f"PaymentIntent {intent.id} is {intent.amount} {intent.currency}, "
            f"payment {payment.id} is {payment.amount} {payment.currency}"
        )


def _set_card(payment: Payment, intent: PaymentIntentSnapshot) -> None:
    assert intent.card is not None
    payment.card_brand = intent.card.brand
    payment.card_last4 = intent.card.last4
    payment.card_exp_month = intent.card.exp_month
    payment.card_exp_year = intent.card.exp_year


async def _settle(conn: BaseDBAsyncClient, payment: Payment) -> None:
    payment.paid_at = payment.paid_at or datetime.now(UTC)
    payment.failure_code = payment.failure_message = None
    if payment.purpose is PaymentPurpose.WALLET_TOP_UP:
        await ledger.post_transfer(
            conn,
            ledger.Transfer(
                debit=ledger.stripe_clearing_account(payment.currency),
                credit=ledger.wallet_account(payment.organization_id, payment.currency),  # type: ignore[attr-defined]
                amount=payment.amount,
                kind=TransferKind.TOP_UP,
                idempotency_key=f"payment:{payment.id}:top_up",
                payment_id=payment.id,
            ),
        )


async def fill_card_details(payment_id: uuid.UUID, gateway: StripeGateway) -> None:
    """Events from some Stripe API versions carry no card details: read them once."""
    payment = await Payment.get(id=payment_id)
    if payment.card_last4 or not payment.stripe_payment_method_id:
        return
    try:
        card = await gateway.retrieve_card(payment.stripe_payment_method_id)
    except StripeFailure as exc:
        log.warning("card details of payment %s unavailable: %s", payment_id, exc)
        return
    if card is not None:
        await Payment.filter(id=payment_id, card_last4__isnull=True).update(
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
        )


async def visible_payment(caller: Caller, payment_id: uuid.UUID | None) -> Payment | None:
    if payment_id is None:
        return None
    payment = await Payment.get_or_none(id=payment_id).prefetch_related("organization")
    if payment is None or not organizations.can_view(caller, payment.organization):
        return None
    return payment


async def organization_payments(
    organization: Organization, first: int | None, after: str | None, status: PaymentStatus | None
) -> Page[Payment]:
    size = page_size(first)
    if size == 0:
        return Page([], False)
    query = Payment.filter(organization=organization).filter(after_filter(after))
    if status is not None:
        query = query.filter(status=status)
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    items = [(encode_cursor(row.created_at, row.id), row) for row in rows]
    return Page(items[:size], len(items) > size)
