"""Payments: creating PaymentIntents and applying Stripe's state to kassa's record.

Every change of a payment's state, whether it comes from a webhook event or from an object
Stripe answered with, goes through `apply_payment_intent`, inside the caller's transaction,
so the ledger transfer and the status change commit together or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from kassa.ids import IdKind, encode
from kassa.models import (
    CreditPackage,
    Invoice,
    Order,
    OrderStatus,
    Organization,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    SavedCard,
    TransferKind,
)
from kassa.money import Money, MoneyError, UnsupportedCurrency
from kassa.services import (
    clock,
    credit_lots,
    host_notifications,
    invoices,
    ledger,
    organizations,
    outbox,
    receipts,
    recovery,
    saved_cards,
    stripe_calls,
)
from kassa.services.addresses import check_email
from kassa.services.errors import DomainError, ErrorCode, StripeMismatch, check_same_request
from kassa.services.identity import Caller
from kassa.services.live_updates import announce_payment_updated
from kassa.services.mail import queue_mail
from kassa.services.stripe_gateway import (
    CardDetails,
    CheckoutSnapshot,
    PaymentIntentSnapshot,
    StripeFailure,
    StripeGateway,
)

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


# Outbox kind: refund a payment that paid an already-paid order (when configured).
REFUND_DUPLICATE = "stripe.refund_duplicate"
# Outbox kind: stop a paid order's other attempts at Stripe.
RETIRE_ATTEMPTS = "stripe.retire_attempts"

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class UnknownPaymentIntent(Exception):
    """An event for a PaymentIntent kassa has no payment for (yet)."""

    def __init__(self, intent_id: str) -> None:
        super().__init__(f"no payment for PaymentIntent {intent_id}")
        self.intent_id = intent_id


class PaymentMismatch(StripeMismatch):
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
    # Where the receipt goes when not to the caller's own address (API keys have none).
    receipt_email: str | None = None


def charge_amount(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, currency)
    except UnsupportedCurrency as exc:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, str(exc), "currency") from exc
    except MoneyError as exc:
        raise DomainError(ErrorCode.INVALID_AMOUNT, str(exc), "amount") from exc


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "idempotencyKey is 1 to 255 printable ASCII characters",
            "idempotencyKey",
        )


async def top_up_wallet(
    caller: Caller, gateway: StripeGateway, request: TopUpRequest
) -> PaymentIntentCreated:
    organization = await organizations.require_visible(caller, request.organization_id)
    money = charge_amount(request.amount, request.currency)
    check_idempotency_key(request.idempotency_key)
    check_email(request.receipt_email, "receiptEmail")
    named = await saved_cards.stripe_payment_method(organization, request.payment_method_id)
    payment = await _new_payment(caller, organization, PaymentPurpose.WALLET_TOP_UP, money, request)
    card = named or await default_card_id(organization)
    return await attach_payment_intent(payment, organization, gateway, card)


async def default_card_id(organization: Organization) -> str | None:
    """The organization's default saved card, used when the caller names none."""
    card = await SavedCard.filter(
        organization=organization, detached_at__isnull=True, is_default=True
    ).first()
    return card.stripe_payment_method_id if card else None


async def new_credit_payment(
    caller: Caller,
    organization: Organization,
    package: CreditPackage,
    expiry_days: int,
    idempotency_key: str | None,
    receipt_email: str | None = None,
    *,
    via_checkout: bool = False,
    payment_method_id: str | None = None,
) -> Payment:
    request = TopUpRequest(
        organization.id, "", package.currency, payment_method_id, idempotency_key, receipt_email
    )
    money = Money.of_minor(package.price, package.currency)
    return await _new_payment(
        caller,
        organization,
        PaymentPurpose.CREDIT_PACKAGE,
        money,
        request,
        credit_package_code=package.code,
        credits=package.credits,
        credit_expiry_days=expiry_days,
        via_checkout=via_checkout,
    )


async def _new_payment(
    caller: Caller,
    organization: Organization,
    purpose: PaymentPurpose,
    money: Money,
    request: TopUpRequest,
    **fields: Any,
) -> Payment:
    fingerprint = hashlib.sha256(
        f"{purpose}|{money.minor}|{money.currency}|{request.payment_method_id or ''}|"
        f"{fields.get('credit_package_code') or ''}".encode()
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
            receipt_email=request.receipt_email or caller.email,
            **fields,
        )
    except IntegrityError:
        # The same idempotency key arrived twice at once: the first insert wins.
        existing = None
        if request.idempotency_key:
            existing = await _by_idempotency_key(organization, request.idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing


async def _by_idempotency_key(
    organization: Organization, key: str, fingerprint: str
) -> Payment | None:
    existing = await Payment.get_or_none(organization=organization, idempotency_key=key)
    if existing is not None:
        check_same_request(existing.request_fingerprint, fingerprint, "request")
    return existing


async def attach_payment_intent(
    payment: Payment,
    organization: Organization,
    gateway: StripeGateway,
    payment_method_id: str | None,
) -> PaymentIntentCreated:
    async with stripe_calls.one_at_a_time(payment.id):
        await payment.refresh_from_db()
        _require_startable(payment)
        try:
            intent = await _payment_intent_of(payment, organization, gateway, payment_method_id)
            if payment_method_id and intent.status == "requires_payment_method":
                # An attempt made without a card (or declined) goes on with this one.
                intent = await gateway.set_payment_method(intent.id, payment_method_id)
                await record_payment_intent(payment.id, intent)
            if payment_method_id and intent.status == "requires_confirmation":
                intent = await confirm_intent(payment, intent, gateway)
        except StripeFailure as exc:
            if exc.refused:
                await fail_unstarted(payment, exc)
            raise provider_error(exc) from exc
    if not intent.client_secret:
        raise DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, "Stripe returned no client secret")
    return PaymentIntentCreated(await Payment.get(id=payment.id), intent.client_secret)


def _require_startable(payment: Payment) -> None:
    """Checkout pays its own payments; a payment without an intent that was cancelled was
    replaced by a newer attempt at paying the same order."""
    if payment.via_checkout or (
        payment.stripe_payment_intent_id is None and payment.status is PaymentStatus.CANCELED
    ):
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "this payment attempt was replaced by a newer one; pay again",
            "paymentId",
        )


async def _payment_intent_of(
    payment: Payment,
    organization: Organization,
    gateway: StripeGateway,
    payment_method_id: str | None,
) -> PaymentIntentSnapshot:
    """The payment's one PaymentIntent: created on first need; under a race, the winner's."""
    if not payment.stripe_payment_intent_id:
        created = await _create_payment_intent(payment, organization, gateway, payment_method_id)
        # Never onto an attempt retired meanwhile: its customer must not get a live intent.
        await (
            Payment.filter(id=payment.id, stripe_payment_intent_id__isnull=True)
            .exclude(status=PaymentStatus.CANCELED)
            .update(stripe_payment_intent_id=created.id)
        )
        await payment.refresh_from_db(fields=["stripe_payment_intent_id", "status"])
        if payment.stripe_payment_intent_id == created.id:
            await record_payment_intent(payment.id, created)
            return created
        # A concurrent request with the same idempotency key attached its intent first (a
        # server that ignores idempotency keys made a second one), or a newer attempt at
        # paying the order retired this payment: this intent must never be paid.
        await cancel_quietly(gateway, created.id)
        _require_startable(payment)
    if payment.stripe_payment_intent_id is None:
        raise DomainError(ErrorCode.INVALID_STATE, "the payment lost its PaymentIntent")
    intent = await gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    await record_payment_intent(payment.id, intent)
    return intent


async def confirm_intent(
    payment: Payment, intent: PaymentIntentSnapshot, gateway: StripeGateway
) -> PaymentIntentSnapshot:
    """Confirm `intent` as Stripe last answered with it, once per payment and card.

    Callers hold the payment's `stripe_calls.one_at_a_time` claim and read `intent` under
    it, so a concurrent retry of the same request waits and then finds it confirmed instead
    of confirming again; no transaction is open during the call. A decline is recorded
    before it is reported.
    """
    if intent.status != "requires_confirmation":
        return intent
    declined: StripeFailure | None = None
    try:
        confirmed = await gateway.confirm_payment_intent(
            intent.id, payment_key=f"{payment.id}:{intent.payment_method_id or ''}"
        )
    except StripeFailure as exc:
        if not exc.card_declined:
            raise
        declined, confirmed = exc, await gateway.retrieve_payment_intent(intent.id)
    await record_payment_intent(payment.id, confirmed)
    if declined is not None:
        raise declined
    return confirmed


def observed_now() -> datetime:
    # Stripe's event times have whole seconds; an observation is stamped the same way.
    return datetime.now(UTC).replace(microsecond=0)


async def fail_unstarted(payment: Payment, exc: StripeFailure) -> None:
    """A payment Stripe refused to start is over; it must not linger as pending. (One whose
    start timed out stays as it is: Stripe may hold its intent, found again by the same
    idempotency key or by reconciliation.)"""
    await Payment.filter(id=payment.id, stripe_payment_intent_id__isnull=True).update(
        status=PaymentStatus.FAILED,
        failure_code=(exc.code or "payment_provider_error")[:100],
        failure_message=exc.message[:1000],
    )


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
        metadata=intent_metadata(payment),
    )


def intent_metadata(payment: Payment) -> dict[str, str]:
    """What every PaymentIntent kassa causes carries, directly or through Checkout: enough
    for kassa to recognise its payment when the intent's id was never recorded."""
    metadata = {
        "kassa_payment_id": str(payment.id),
        "kassa_organization_id": str(payment.organization_id),  # type: ignore[attr-defined]
        "kassa_purpose": payment.purpose.value,
    }
    if payment.order_id:  # type: ignore[attr-defined]
        metadata["kassa_order_id"] = str(payment.order_id)  # type: ignore[attr-defined]
    if payment.credit_package_code:
        metadata["kassa_credit_package"] = payment.credit_package_code
    return metadata


async def record_payment_intent(payment_id: uuid.UUID, intent: PaymentIntentSnapshot) -> None:
    """Apply an intent Stripe answered with, through the same path as its events."""
    async with in_transaction() as conn:
        locked = await Payment.select_for_update(no_key=True).using_db(conn).get(id=payment_id)
        await apply_payment_intent(conn, locked, intent, observed_now())


async def record_checkout_session(payment_id: uuid.UUID, session: CheckoutSnapshot) -> None:
    """Apply a Checkout Session Stripe answered with, through the same path as its events."""
    async with in_transaction() as conn:
        locked = await Payment.select_for_update(no_key=True).using_db(conn).get(id=payment_id)
        await apply_checkout_session_to(conn, locked, session, None, observed_now())


async def apply_checkout_session_to(
    conn: BaseDBAsyncClient,
    payment: Payment,
    session: CheckoutSnapshot,
    event_type: str | None,
    observed_at: datetime,
) -> None:
    """A session's state, read into the intent-shaped snapshot `apply_payment_intent` takes,
    so the order, ledger, mail and notifications follow it exactly as a card payment's."""
    if session.payment_intent_id and payment.stripe_payment_intent_id is None:
        # From now on the intent's own events find this payment too.
        payment.stripe_payment_intent_id = session.payment_intent_id
    intent = checkout_as_intent(payment, session, event_type)
    await apply_payment_intent(conn, payment, intent, observed_at)


def checkout_as_intent(
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


async def cancel_quietly(gateway: StripeGateway, intent_id: str) -> None:
    try:
        await gateway.cancel_payment_intent(intent_id)
    except StripeFailure as exc:
        log.warning("could not cancel duplicate PaymentIntent %s: %s", intent_id, exc)


def provider_error(exc: StripeFailure) -> DomainError:
    if exc.card_declined:
        return DomainError(ErrorCode.CARD_DECLINED, exc.message)
    if exc.refused:
        return DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, f"Stripe: {exc.message}")
    return outcome_unknown(exc)


def outcome_unknown(exc: Exception) -> DomainError:
    """Stripe may have acted without kassa hearing back: never reported as a failure."""
    return DomainError(
        ErrorCode.PAYMENT_OUTCOME_UNKNOWN,
        f"{exc}; whether Stripe acted is not known yet. Read the payment, or repeat this "
        "request (with the same idempotencyKey if it had one): kassa settles it with Stripe",
    )


class Adoption(StrEnum):
    ADOPTED = "adopted"  # kassa's payment now tracks the intent
    FOREIGN = "foreign"  # not an intent kassa made
    UNRESOLVED = "unresolved"  # names a payment kassa cannot match (yet)


async def adopt_payment_intent(intent_id: str, gateway: StripeGateway) -> Adoption:
    """Attach an intent kassa made but never recorded (a crash right after creating it).

    The intent's metadata only names a candidate; kassa's own record decides: the payment
    must exist, have no intent yet, and match the intent's organization, amount and currency.
    """
    intent = await gateway.retrieve_payment_intent(intent_id)
    if "kassa_payment_id" not in intent.metadata:
        return Adoption.FOREIGN
    payment = await _payment_named_by(intent)
    if payment is not None and payment.stripe_payment_intent_id == intent.id:
        return Adoption.ADOPTED  # recorded meanwhile, by the request that made it
    if payment is None or not _is_made_for(payment, intent):
        return Adoption.UNRESOLVED
    claimed = await Payment.filter(id=payment.id, stripe_payment_intent_id__isnull=True).update(
        stripe_payment_intent_id=intent.id
    )
    if claimed:
        await record_payment_intent(payment.id, intent)
        return Adoption.ADOPTED
    await payment.refresh_from_db(fields=["stripe_payment_intent_id"])
    return (
        Adoption.ADOPTED if payment.stripe_payment_intent_id == intent.id else Adoption.UNRESOLVED
    )


async def _payment_named_by(intent: PaymentIntentSnapshot) -> Payment | None:
    try:
        payment_id = uuid.UUID(intent.metadata.get("kassa_payment_id", ""))
    except ValueError:
        return None
    return await Payment.get_or_none(id=payment_id)


def _is_made_for(payment: Payment, intent: PaymentIntentSnapshot) -> bool:
    # Whatever kassa's names the intent gives agree with kassa's record, and it gives at
    # least the organization: intents made before a name was added lack only that name.
    named = intent_metadata(payment)
    return (
        payment.stripe_payment_intent_id is None
        and intent.metadata.get("kassa_organization_id") == named["kassa_organization_id"]
        and all(intent.metadata.get(key, value) == value for key, value in named.items())
        and payment.amount == intent.amount
        and payment.currency == intent.currency
    )


async def payment_for_intent(conn: BaseDBAsyncClient, intent_id: str) -> Payment:
    """The payment of `intent_id`, locked. Every event about a PaymentIntent comes here:
    plain SQL, so no query is built per event (the row becomes a model as tortoise's own
    queries make one)."""
    rows = await conn.execute_query_dict(
        "SELECT * FROM payments WHERE stripe_payment_intent_id = $1 FOR NO KEY UPDATE",
        [intent_id],
    )
    if not rows:
        raise UnknownPaymentIntent(intent_id)
    return Payment._init_from_db(**rows[0])


def target_status(intent: PaymentIntentSnapshot) -> PaymentStatus:
    # Stripe sends a failed attempt back to requires_payment_method with the error attached.
    if intent.status == "requires_payment_method" and intent.failure_code:
        return PaymentStatus.FAILED
    return STRIPE_STATUS.get(intent.status, PaymentStatus.PROCESSING)


async def apply_payment_intent(
    conn: BaseDBAsyncClient,
    payment: Payment,
    intent: PaymentIntentSnapshot,
    observed_at: datetime,
) -> bool:
    """Bring a locked `payment` to the state of `intent`; False when that state is stale.

    `observed_at` is the Stripe `created` time of the event, or when kassa read the object.
    """
    status = target_status(intent)
    if _is_stale(payment, status, observed_at):
        return False
    _check_matches(payment, intent)
    changed = payment.status is not status
    payment.status = status
    payment.stripe_charge_id = intent.charge_id or payment.stripe_charge_id
    payment.stripe_payment_method_id = intent.payment_method_id or payment.stripe_payment_method_id
    if intent.card is not None:
        _set_card(payment, intent.card)
    if status is PaymentStatus.FAILED:
        payment.failure_code = intent.failure_code
        payment.failure_message = (intent.failure_message or "")[:1000] or None
    payment.last_stripe_event_at = max(observed_at, payment.last_stripe_event_at or observed_at)
    if status is PaymentStatus.SUCCEEDED:
        await _settle(conn, payment)
    await _follow_order(conn, payment)
    await payment.save(using_db=conn)
    await announce_payment_updated(conn, payment.id)
    if changed:
        await _notify_host_of_payment(conn, payment)
    if status is PaymentStatus.FAILED and payment.purpose is not PaymentPurpose.SUBSCRIPTION:
        # An invoice's failures are mailed from its own event, once per invoice attempt
        # (subscription_billing): its intent's events would mail each attempt once more.
        await recovery.after_failed_attempt(conn, payment, intent)
    return True


async def _notify_host_of_payment(conn: BaseDBAsyncClient, payment: Payment) -> None:
    order_id = payment.order_id  # type: ignore[attr-defined]
    await notify_host(
        conn,
        payment,
        "payment.updated",
        f"payment:{payment.id}:{payment.status}",
        status=payment.status.value,
        order=encode(IdKind.ORDER, order_id) if order_id else None,
    )


async def notify_host(
    conn: BaseDBAsyncClient, payment: Payment, event_type: str, about: str, **data: object
) -> None:
    """Tell the organization's host app about `payment`: its id and amount, and `data`."""
    money = Money.of_minor(payment.amount, payment.currency)
    await host_notifications.queue(
        conn,
        payment.organization_id,  # type: ignore[attr-defined]
        event_type,
        about,
        {
            "id": encode(IdKind.PAYMENT, payment.id),
            "amount": money.format(),
            "currency": money.currency,
            **data,
        },
    )


# Within one second (Stripe's resolution) a state only moves forward in this order.
PROGRESS = {
    PaymentStatus.REQUIRES_PAYMENT_METHOD: 0,
    PaymentStatus.REQUIRES_CONFIRMATION: 1,
    PaymentStatus.REQUIRES_ACTION: 2,
    PaymentStatus.PROCESSING: 3,
    PaymentStatus.FAILED: 4,
    PaymentStatus.SUCCEEDED: 5,
    PaymentStatus.CANCELED: 5,
}


def _is_stale(payment: Payment, status: PaymentStatus, observed_at: datetime) -> bool:
    if payment.status is PaymentStatus.CANCELED and status is PaymentStatus.SUCCEEDED:
        # Stripe never lets a cancelled intent or expired session succeed: this CANCELED
        # was kassa's own (an attempt retired before Stripe heard of it), and the money is
        # real. It is booked, as a duplicate if the order is paid already.
        return False
    if payment.status.is_final:
        return status is not payment.status
    if status.is_final:
        return False
    last = payment.last_stripe_event_at
    if last is None or observed_at > last:
        return False
    return observed_at < last or PROGRESS[status] < PROGRESS[payment.status]


def _check_matches(payment: Payment, intent: PaymentIntentSnapshot) -> None:
    if intent.amount != payment.amount or intent.currency != payment.currency:
        raise PaymentMismatch(
            f"PaymentIntent {intent.id} is {intent.amount} {intent.currency}, "
            f"payment {payment.id} is {payment.amount} {payment.currency}"
        )


def _set_card(payment: Payment, card: CardDetails) -> None:
    payment.card_brand = card.brand
    payment.card_last4 = card.last4
    payment.card_exp_month = card.exp_month
    payment.card_exp_year = card.exp_year


async def _settle(conn: BaseDBAsyncClient, payment: Payment) -> None:
    payment.paid_at = payment.paid_at or clock.now()
    payment.failure_code = payment.failure_message = None
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    if payment.purpose is PaymentPurpose.WALLET_TOP_UP:
        credit, kind = ledger.wallet_account(organization_id, payment.currency), TransferKind.TOP_UP
    else:  # an order, credits bought or subscribed to: money the organization earned
        credit, kind = ledger.sales_account(organization_id, payment.currency), TransferKind.SALE
    await ledger.post_transfer(
        conn,
        ledger.Transfer(
            debit=ledger.stripe_clearing_account(payment.currency),
            credit=credit,
            amount=payment.amount,
            kind=kind,
            idempotency_key=f"payment:{payment.id}:{kind.value.lower()}",
            payment_id=payment.id,
        ),
    )
    if payment.purpose.grants_credits:
        await credit_lots.fill_lot(conn, payment)
    invoice = await invoices.issue(
        conn,
        payment,
        subscription_id=payment.subscription_id,  # type: ignore[attr-defined]
        stripe_invoice_id=payment.stripe_invoice_id,
    )
    await _queue_receipt(conn, payment, invoice)


async def _queue_receipt(conn: BaseDBAsyncClient, payment: Payment, invoice: Invoice) -> None:
    if not payment.receipt_email:
        return
    order = await _order_of(conn, payment)
    money = Money.of_minor(payment.amount, payment.currency)
    card = f"{payment.card_brand} ending {payment.card_last4}" if payment.card_last4 else None
    await queue_mail(
        conn,
        template="receipt",
        about=str(payment.id),
        to=payment.receipt_email,
        context={
            "amount": money.format(),
            "currency": money.currency.upper(),
            "description": await receipts.describe(payment, order, conn),
            "paid_at": (payment.paid_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            "card": card,
            "payment_id": str(payment.id),
            # The mail's signed link to the invoice's PDF is made when it is sent.
            "invoice_id": str(invoice.id),
        },
    )


async def _order_of(conn: BaseDBAsyncClient, payment: Payment) -> Order | None:
    order_id = payment.order_id  # type: ignore[attr-defined]
    return await Order.filter(id=order_id).using_db(conn).first() if order_id else None


# Payments still under way: paying again continues one of these.
OPEN_STATUSES = (
    PaymentStatus.REQUIRES_PAYMENT_METHOD,
    PaymentStatus.REQUIRES_CONFIRMATION,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
)

# What a payment's new state makes of its order, from the order states it may leave.
ORDER_FOLLOWS = {
    PaymentStatus.SUCCEEDED: (
        OrderStatus.PAID,
        (OrderStatus.PENDING, OrderStatus.FAILED, OrderStatus.CANCELED),
    ),
    PaymentStatus.FAILED: (OrderStatus.FAILED, (OrderStatus.PENDING,)),
    PaymentStatus.CANCELED: (OrderStatus.CANCELED, (OrderStatus.PENDING, OrderStatus.FAILED)),
}


async def _follow_order(conn: BaseDBAsyncClient, payment: Payment) -> None:
    """An order's status follows its payments: paid once any succeeds, never back."""
    order_id = payment.order_id  # type: ignore[attr-defined]
    if order_id is None or payment.status not in ORDER_FOLLOWS or payment.duplicate:
        return
    new_status, from_statuses = ORDER_FOLLOWS[payment.status]
    if new_status is not OrderStatus.PAID and await _order_has_other_hope(conn, payment):
        return  # another attempt at paying this order is under way or has succeeded
    changed = await (
        Order.filter(id=order_id, status__in=from_statuses)
        .using_db(conn)
        .update(status=new_status, updated_at=datetime.now(UTC))
    )
    if changed:
        await notify_host_of_order(conn, order_id)
    if changed and new_status is OrderStatus.PAID:
        await _queue_order_confirmations(conn, order_id)
        about = f"{RETIRE_ATTEMPTS}:{order_id}"
        await outbox.add(conn, RETIRE_ATTEMPTS, about, {"order": str(order_id)})
    if not changed and new_status is OrderStatus.PAID and await _paid_by_another(conn, payment):
        await _record_duplicate(conn, payment)


async def _paid_by_another(conn: BaseDBAsyncClient, payment: Payment) -> bool:
    # Read after the order UPDATE above: a concurrent success that paid the order first
    # has committed by then (the UPDATE waited for its row lock), so it is seen here.
    return (
        await Payment.filter(
            order_id=payment.order_id,  # type: ignore[attr-defined]
            status=PaymentStatus.SUCCEEDED,
            duplicate=False,
        )
        .exclude(id=payment.id)
        .using_db(conn)
        .exists()
    )


async def _record_duplicate(conn: BaseDBAsyncClient, payment: Payment) -> None:
    """Both attempts were paid at Stripe (two tabs, a session paid as it was retired): the
    money is booked like any payment, shown as a duplicate, and given back by a refund."""
    payment.duplicate = True
    log.warning("payment %s paid order %s a second time", payment.id, payment.order_id)  # type: ignore[attr-defined]
    await outbox.add(
        conn, REFUND_DUPLICATE, f"{REFUND_DUPLICATE}:{payment.id}", {"payment": str(payment.id)}
    )
    await notify_host(
        conn,
        payment,
        "payment.duplicate",
        f"payment:{payment.id}:duplicate",
        order=encode(IdKind.ORDER, payment.order_id),  # type: ignore[attr-defined]
    )


async def notify_host_of_order(conn: BaseDBAsyncClient, order_id: uuid.UUID) -> None:
    order = await Order.filter(id=order_id).using_db(conn).get()
    await host_notifications.queue(
        conn,
        order.organization_id,  # type: ignore[attr-defined]
        "order.updated",
        f"order:{order.id}:{order.status}",
        {
            "id": encode(IdKind.ORDER, order.id),
            "reference": order.reference,
            "status": order.status.value,
        },
    )


async def _order_has_other_hope(conn: BaseDBAsyncClient, payment: Payment) -> bool:
    hopeful = (*OPEN_STATUSES, PaymentStatus.SUCCEEDED)
    return (
        await Payment.filter(order_id=payment.order_id, status__in=hopeful)  # type: ignore[attr-defined]
        .exclude(id=payment.id)
        .using_db(conn)
        .exists()
    )


async def _queue_order_confirmations(conn: BaseDBAsyncClient, order_id: uuid.UUID) -> None:
    """The customer and everyone the host asked to notify (a coach, a venue)."""
    order = await Order.filter(id=order_id).using_db(conn).get()
    money = Money.of_minor(order.amount, order.currency)
    context = {
        "order_id": str(order.id),
        "reference": order.reference,
        "description": order.description,
        "amount": money.format(),
        "currency": money.currency.upper(),
        "customer_email": order.customer_email,
    }
    recipients = [order.customer_email, *order.notify_emails]
    for recipient in dict.fromkeys(email for email in recipients if email):
        await queue_mail(
            conn, template="order_confirmation", about=str(order.id), to=recipient, context=context
        )


async def fill_card_details(payment_id: uuid.UUID, gateway: StripeGateway) -> None:
    """The follow-up of an event that left a payment without its card: read it once."""
    payment = await Payment.get(id=payment_id)
    if payment.card_last4 or not payment.stripe_payment_method_id:
        return
    await _read_card(payment.id, payment.stripe_payment_method_id, gateway)


async def read_card_before_event(
    intent_id: str, payment_method_id: str, gateway: StripeGateway, within: float
) -> None:
    """Read the card an event about to be applied does not carry, so that the payment never
    shows SUCCEEDED without it. Applying events waits on nothing slow: when Stripe cannot
    answer within `within` seconds, the event's follow-up reads the card instead."""
    payment = await Payment.get_or_none(stripe_payment_intent_id=intent_id)
    if payment is None or payment.card_last4:
        return
    try:
        async with asyncio.timeout(within):
            card = await gateway.retrieve_card(payment_method_id)
    except (StripeFailure, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {within} s"
        log.info("card of PaymentIntent %s left to the follow-up: %s", intent_id, reason)
        return
    await _store_card(payment.id, card)


async def _read_card(payment_id: uuid.UUID, payment_method_id: str, gateway: StripeGateway) -> None:
    await _store_card(payment_id, await gateway.retrieve_card(payment_method_id))


async def _store_card(payment_id: uuid.UUID, card: CardDetails | None) -> None:
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


async def by_ids(keys: Sequence[uuid.UUID]) -> list[Payment | None]:
    """Payments by id in the order asked, for a per-request DataLoader."""
    found = {payment.id: payment for payment in await Payment.filter(id__in=list(keys))}
    return [found.get(key) for key in keys]


async def by_id(payment_id: uuid.UUID) -> Payment:
    return await Payment.get(id=payment_id)
