"""Refunds: never more than captured minus refunded, booked once when Stripe says succeeded.

A refund asked through kassa is reserved under the payment's row lock before Stripe is
called, so two refunds at once cannot both fit into the same remainder. Whatever Stripe
answers, and every later `refund.*` / `charge.refunded` event, goes through
`apply_refund`, which also picks up refunds made in Stripe's dashboard.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
    TransferKind,
)
from kassa.money import Money, MoneyError
from kassa.services import (
    clock,
    credit_lots,
    deadline,
    ledger,
    organizations,
    payments,
    stripe_calls,
    wallets,
)
from kassa.services.errors import (
    DomainError,
    ErrorCode,
    StripeMismatch,
    check_same_request,
    check_storable,
    not_found,
)
from kassa.services.identity import Caller
from kassa.services.live_updates import announce_payment_updated
from kassa.services.mail import queue_mail
from kassa.services.stripe_gateway import RefundSnapshot, StripeFailure, StripeGateway

log = logging.getLogger(__name__)
# Refunds sent again per run: a slow Stripe holds one run up for at most this many calls.
RESEND_BATCH = 20

STRIPE_STATUS = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.REQUIRES_ACTION,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


class UnknownRefund(Exception):
    """A refund event for a payment kassa does not know (yet)."""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment_id: uuid.UUID | None
    amount: str | None = None
    reason: str | None = None
    allow_negative_balance: bool = False
    idempotency_key: str | None = None


async def refund_payment(
    caller: Caller, gateway: StripeGateway, request: RefundRequest
) -> tuple[Refund, Payment]:
    payment = await _refundable(caller, request)
    refund = await _reserve(caller.user_id, payment, request)
    async with stripe_calls.one_at_a_time(refund.id, Refund):
        await _send_if_unsent(refund.id, payment, gateway)
    return await Refund.get(id=refund.id), await Payment.get(id=payment.id)


async def _send_if_unsent(refund_id: uuid.UUID, payment: Payment, gateway: StripeGateway) -> None:
    """Under the refund's Stripe-call claim: whoever held it before may have sent it."""
    refund = await Refund.get(id=refund_id)
    if refund.stripe_refund_id is None and refund.status is RefundStatus.PENDING:
        await _send_to_stripe(refund, payment, gateway)


async def refund_duplicate(payment_id: uuid.UUID, gateway: StripeGateway) -> None:
    """Give back a payment that paid an already-paid order: what is left of it, once (its
    key is fixed), retried by the outbox until Stripe has answered."""
    payment = await Payment.get(id=payment_id)
    request = RefundRequest(
        payment_id,
        reason="paid an order that was already paid",
        idempotency_key=f"kassa:duplicate:{payment_id}",
    )
    try:
        refund = await _reserve("kassa", payment, request)
    except DomainError as exc:
        if exc.code is ErrorCode.REFUND_EXCEEDS_CAPTURED:
            return  # refunded in full already, by hand or from Stripe's dashboard
        raise
    async with stripe_calls.one_at_a_time(refund.id, Refund):
        await _send_if_unsent(refund.id, payment, gateway)


async def _refundable(caller: Caller, request: RefundRequest) -> Payment:
    payment = await payments.visible_payment(caller, request.payment_id)
    if payment is None:
        raise not_found("payment", "paymentId")
    if not organizations.can_manage(caller, payment.organization):
        raise DomainError(ErrorCode.FORBIDDEN, "only owners and admins may refund", "paymentId")
    if request.allow_negative_balance and not _may_go_negative(caller, payment):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "only platform admins may allow a negative wallet balance",
            "allowNegativeBalance",
        )
    payments.check_idempotency_key(request.idempotency_key)
    check_storable(request.reason, "reason")
    if request.reason is not None and not 0 < len(request.reason) <= 500:
        raise DomainError(ErrorCode.INVALID_INPUT, "reason is 1 to 500 characters", "reason")
    return payment


async def _reserve(created_by: str, payment: Payment, request: RefundRequest) -> Refund:
    fingerprint = hashlib.sha256(f"{request.amount}|{request.reason}".encode()).hexdigest()
    async with in_transaction() as conn:
        locked = await Payment.select_for_update(no_key=True).using_db(conn).get(id=payment.id)
        if request.idempotency_key:
            existing = await _by_key(conn, locked, request.idempotency_key, fingerprint)
            if existing is not None:
                return existing
        amount, held = await _refund_amount(conn, locked, request.amount)
        if not request.allow_negative_balance:
            await _require_covered(conn, locked, amount, held)
        return await Refund.create(
            using_db=conn,
            payment=locked,
            amount=amount,
            currency=locked.currency,
            reason=request.reason,
            idempotency_key=request.idempotency_key,
            request_fingerprint=fingerprint,
            created_by=created_by,
        )


async def _by_key(
    conn: BaseDBAsyncClient, payment: Payment, key: str, fingerprint: str
) -> Refund | None:
    existing = await Refund.filter(payment=payment, idempotency_key=key).using_db(conn).first()
    if existing is not None:
        check_same_request(existing.request_fingerprint, fingerprint, "refund")
    return existing


async def _refund_amount(
    conn: BaseDBAsyncClient, payment: Payment, text: str | None
) -> tuple[int, int]:
    """The amount to refund and what earlier refunds already hold."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise DomainError(
            ErrorCode.INVALID_STATE, "only a succeeded payment can be refunded", "paymentId"
        )
    held = await _held(conn, payment)
    remaining = payment.amount - held
    amount = remaining if text is None else _amount(text, payment.currency)
    if remaining <= 0 or amount > remaining:
        left = Money.of_minor(max(remaining, 0), payment.currency).format()
        raise DomainError(
            ErrorCode.REFUND_EXCEEDS_CAPTURED,
            f"at most {left} {payment.currency.upper()} is left to refund",
            "amount",
        )
    return amount, held


def _may_go_negative(caller: Caller, payment: Payment) -> bool:
    # Credits clawed back into debt are the organization's own business (the refund is
    # already an owner's or admin's call); a negative wallet is money, the platform's.
    return caller.is_platform_admin or payment.purpose.grants_credits


async def _require_covered(
    conn: BaseDBAsyncClient, payment: Payment, amount: int, held: int
) -> None:
    if payment.purpose is PaymentPurpose.WALLET_TOP_UP:
        await _require_wallet_covers(conn, payment, amount)
    elif payment.purpose.grants_credits:
        await credit_lots.require_clawback_covered(conn, payment, held + amount, clock.now())


def _amount(text: str, currency: str) -> int:
    try:
        return Money.parse(text, currency).minor
    except MoneyError as exc:
        raise DomainError(ErrorCode.INVALID_AMOUNT, str(exc), "amount") from exc


async def _require_wallet_covers(conn: BaseDBAsyncClient, payment: Payment, amount: int) -> None:
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    _, available = await wallets.spendable(conn, organization_id, payment.currency)
    if available < amount:
        raise DomainError(
            ErrorCode.INSUFFICIENT_BALANCE,
            "the wallet no longer holds this much; a platform admin may allow a negative balance",
            "amount",
        )


async def _send_to_stripe(refund: Refund, payment: Payment, gateway: StripeGateway) -> None:
    if payment.stripe_payment_intent_id is None:
        raise DomainError(ErrorCode.INVALID_STATE, "the payment has no PaymentIntent", "paymentId")
    try:
        snapshot = await gateway.create_refund(
            refund_key=str(refund.id),
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=refund.amount,
            metadata={"kassa_refund_id": str(refund.id), "kassa_reason": refund.reason or ""},
        )
    except StripeFailure as exc:
        if not exc.refused:
            # Stripe may have made the refund before the answer got lost: the row keeps
            # holding the amount until Stripe's event, a retry with the same key or the
            # worker's `resend_unsent` (this refund's own key) settles it.
            raise DomainError(
                ErrorCode.PAYMENT_OUTCOME_UNKNOWN,
                f"{exc}; the refund is pending until Stripe confirms it (kassa keeps asking)",
            ) from exc
        await Refund.filter(id=refund.id, stripe_refund_id__isnull=True).update(
            status=RefundStatus.FAILED, failure_reason=(exc.code or "stripe_error")[:255]
        )
        raise payments.provider_error(exc) from exc
    async with in_transaction() as conn:
        await apply_refund(conn, snapshot, payments.observed_now())


async def resend_unsent(gateway: StripeGateway, older_than: timedelta, each_seconds: float) -> int:
    """Ask Stripe again, with each refund's own idempotency key, for refunds kassa reserved
    but never heard back about (Stripe timed out or answered 5xx): Stripe makes each at most
    once, so a refund it did make is only read back. Waits `older_than` so the request that
    reserved it has given up; a refund someone is sending right now is left to them; oldest
    first, a few at a time, each within `each_seconds`."""
    unsent = (
        await Refund.filter(
            status=RefundStatus.PENDING,
            stripe_refund_id__isnull=True,
            created_at__lt=datetime.now(UTC) - older_than,
        )
        .order_by("created_at")
        .limit(RESEND_BATCH)
    )
    settled = 0
    for refund in unsent:
        payment = await Payment.get(id=refund.payment_id)  # type: ignore[attr-defined]
        async with stripe_calls.if_free(refund.id, Refund) as mine:
            if not mine:
                continue
            try:
                with deadline.within(each_seconds):
                    await _send_if_unsent(refund.id, payment, gateway)
                settled += 1
            except DomainError as exc:
                log.warning("refund %s still unsettled: %s", refund.id, exc.message)
    return settled


# Stripe moves a refund forward only: pending → requires_action → succeeded, and a
# succeeded refund may still fail; failed and canceled are the end.
PROGRESS = {
    RefundStatus.PENDING: 0,
    RefundStatus.REQUIRES_ACTION: 1,
    RefundStatus.SUCCEEDED: 2,
    RefundStatus.FAILED: 3,
    RefundStatus.CANCELED: 3,
}


class RefundBeforePayment(Exception):
    """A refund succeeded for a payment kassa has not seen succeed yet: retried later."""


class RefundMismatch(StripeMismatch):
    """A refund event that does not fit kassa's record of the payment: never booked."""


async def apply_refund(
    conn: BaseDBAsyncClient, snapshot: RefundSnapshot, observed_at: datetime
) -> Refund:
    """Bring kassa's refund to Stripe's state, booking money once on success.

    Stripe's word is checked against kassa's record before anything is written: the
    currency is the payment's, a known refund keeps its amount, and a refund kassa did not
    ask for fits into what is left of the payment after every refund that holds money.
    """
    known = await _known_refund(conn, snapshot)
    payment_id = known.payment_id if known else (await _payment_refunded(conn, snapshot)).id  # type: ignore[attr-defined]
    # The payment first, then the refund: every path locks in this order.
    payment = await Payment.select_for_update(no_key=True).using_db(conn).get(id=payment_id)
    found = known or await _dashboard_refund(conn, snapshot, payment)
    refund = await Refund.select_for_update(no_key=True).using_db(conn).get(id=found.id)
    _check_matches(refund, payment, snapshot)
    before, after = refund.status, STRIPE_STATUS.get(snapshot.status, RefundStatus.PENDING)
    if PROGRESS[after] < PROGRESS[before] or _is_older(refund, observed_at):
        return refund
    refund.status, refund.stripe_refund_id = after, snapshot.id
    refund.failure_reason = snapshot.failure_reason
    refund.last_stripe_event_at = observed_at
    await refund.save(using_db=conn)
    if (before is RefundStatus.SUCCEEDED) != (after is RefundStatus.SUCCEEDED):
        await _book(conn, refund, reverse=before is RefundStatus.SUCCEEDED)
    return refund


def _check_matches(refund: Refund, payment: Payment, snapshot: RefundSnapshot) -> None:
    if snapshot.currency != payment.currency or (snapshot.amount, snapshot.currency) != (
        refund.amount,
        refund.currency,
    ):
        raise RefundMismatch(
            f"Stripe's refund {snapshot.id} is {snapshot.amount} {snapshot.currency}; kassa's "
            f"refund {refund.id} is {refund.amount} {refund.currency} of payment {payment.id} "
            f"in {payment.currency}"
        )


def _is_older(refund: Refund, observed_at: datetime) -> bool:
    return refund.last_stripe_event_at is not None and observed_at < refund.last_stripe_event_at


async def _known_refund(conn: BaseDBAsyncClient, snapshot: RefundSnapshot) -> Refund | None:
    found = await Refund.filter(stripe_refund_id=snapshot.id).using_db(conn).first()
    return found or await _refund_named_by(conn, snapshot)


async def _refund_named_by(conn: BaseDBAsyncClient, snapshot: RefundSnapshot) -> Refund | None:
    # The metadata only names a candidate; it must be a refund of the same intent.
    try:
        refund_id = uuid.UUID(snapshot.metadata.get("kassa_refund_id", ""))
    except ValueError:
        return None
    refund = await Refund.filter(id=refund_id).using_db(conn).first()
    if refund is None:
        return None
    payment = await Payment.filter(id=refund.payment_id).using_db(conn).get()  # type: ignore[attr-defined]
    return refund if payment.stripe_payment_intent_id == snapshot.payment_intent_id else None


async def _payment_refunded(conn: BaseDBAsyncClient, snapshot: RefundSnapshot) -> Payment:
    payment = None
    if snapshot.payment_intent_id:
        payment = (
            await Payment.filter(stripe_payment_intent_id=snapshot.payment_intent_id)
            .using_db(conn)
            .first()
        )
    if payment is None and snapshot.charge_id:
        payment = await Payment.filter(stripe_charge_id=snapshot.charge_id).using_db(conn).first()
    if payment is None:
        raise UnknownRefund(f"no payment for refund {snapshot.id}")
    return payment


async def _dashboard_refund(
    conn: BaseDBAsyncClient, snapshot: RefundSnapshot, payment: Payment
) -> Refund:
    """A refund made outside kassa (Stripe's dashboard): recorded against its locked
    payment when it fits into what no other refund holds."""
    held = await _held(conn, payment)
    if snapshot.currency != payment.currency or not 0 < snapshot.amount <= payment.amount - held:
        raise RefundMismatch(
            f"Stripe's refund {snapshot.id} of {snapshot.amount} {snapshot.currency} does not "
            f"fit payment {payment.id}: {payment.amount} {payment.currency}, {held} already "
            "refunded or held"
        )
    return await Refund.create(
        using_db=conn,
        payment=payment,
        amount=snapshot.amount,
        currency=snapshot.currency,
        stripe_refund_id=snapshot.id,
        reason="made in Stripe's dashboard",
    )


async def _held(conn: BaseDBAsyncClient, payment: Payment) -> int:
    return sum(
        refund.amount
        for refund in await Refund.filter(payment=payment).using_db(conn)
        if refund.status.holds_money
    )


async def _book(conn: BaseDBAsyncClient, refund: Refund, *, reverse: bool) -> None:
    """Move the money back (or forward again when Stripe reverses a refund) exactly once."""
    payment = await Payment.select_for_update(no_key=True).using_db(conn).get(id=refund.payment_id)  # type: ignore[attr-defined]
    if not reverse and payment.status is not PaymentStatus.SUCCEEDED:
        # Out of order: the refund's event overtook the payment's. Booking now would
        # take back money kassa has not received; the event is retried instead.
        raise RefundBeforePayment(f"refund {refund.id}: payment {payment.id} not succeeded yet")
    if not reverse and payment.amount_refunded + refund.amount > payment.amount:
        raise RefundMismatch(
            f"refund {refund.id} of {refund.amount} would take payment {payment.id} past its "
            f"{payment.amount} captured ({payment.amount_refunded} refunded already)"
        )
    account = _refunded_from(payment)
    if account is not None:
        clearing = ledger.stripe_clearing_account(payment.currency)
        debit, credit = (clearing, account) if reverse else (account, clearing)
        await ledger.post_transfer(
            conn,
            ledger.Transfer(
                debit=debit,
                credit=credit,
                amount=refund.amount,
                kind=TransferKind.REFUND,
                idempotency_key=f"refund:{refund.id}" + (":reversed" if reverse else ""),
                payment_id=payment.id,
            ),
        )
    payment.amount_refunded += -refund.amount if reverse else refund.amount
    await payment.save(using_db=conn, update_fields=["amount_refunded", "updated_at"])
    if payment.purpose.grants_credits:
        follow = credit_lots.give_back if reverse else credit_lots.claw_back
        await follow(conn, payment, refund.id, clock.now())
    await _follow_order(conn, payment)
    await announce_payment_updated(conn, payment.id)
    if not reverse and payment.receipt_email:
        await _queue_refund_notice(conn, refund, payment, payment.receipt_email)


async def _queue_refund_notice(
    conn: BaseDBAsyncClient, refund: Refund, payment: Payment, to: str
) -> None:
    await queue_mail(
        conn,
        template="refund_notice",
        about=str(refund.id),
        to=to,
        context={
            "amount": Money.of_minor(refund.amount, refund.currency).format(),
            "payment_amount": Money.of_minor(payment.amount, payment.currency).format(),
            "currency": refund.currency.upper(),
            "reason": refund.reason,
            "refund_id": str(refund.id),
        },
    )


def _refunded_from(payment: Payment) -> ledger.AccountRef | None:
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    if payment.purpose is PaymentPurpose.WALLET_TOP_UP:
        return ledger.wallet_account(organization_id, payment.currency)
    return ledger.sales_account(organization_id, payment.currency)


async def _follow_order(conn: BaseDBAsyncClient, payment: Payment) -> None:
    order_id = payment.order_id  # type: ignore[attr-defined]
    if order_id is None or payment.duplicate:
        return  # a duplicate's refund gives back the second payment, not the order's
    if payment.amount_refunded >= payment.amount:
        status = OrderStatus.REFUNDED
    elif payment.amount_refunded > 0:
        status = OrderStatus.PARTIALLY_REFUNDED
    else:
        status = OrderStatus.PAID
    changed = await (
        Order.filter(id=order_id)
        .exclude(status=status)
        .using_db(conn)
        .update(status=status, updated_at=datetime.now(UTC))
    )
    if changed:
        await payments.notify_host_of_order(conn, order_id)


async def sync_charge(charge_id: str, gateway: StripeGateway) -> None:
    """Apply every refund Stripe has for a charge (a `charge.refunded` without its list)."""
    for snapshot in await gateway.refunds_for_charge(charge_id):
        async with in_transaction() as conn:
            await apply_refund(conn, snapshot, payments.observed_now())


async def visible_refund(caller: Caller, refund_id: uuid.UUID | None) -> Refund | None:
    """The refund if the caller may see its payment's organization; None otherwise."""
    if refund_id is None:
        return None
    refund = await Refund.get_or_none(id=refund_id).prefetch_related("payment__organization")
    if refund is None or not organizations.can_view(caller, refund.payment.organization):
        return None
    return refund


async def of_payment(payment_id: uuid.UUID) -> list[Refund]:
    return await Refund.filter(payment_id=payment_id).order_by("created_at")


async def of_payments(keys: Sequence[uuid.UUID]) -> list[list[Refund]]:
    """Each payment's refunds, oldest first, in one query, for a per-request DataLoader."""
    by_payment: dict[uuid.UUID, list[Refund]] = {key: [] for key in keys}
    for refund in await Refund.filter(payment_id__in=list(keys)).order_by("created_at", "id"):
        by_payment[refund.payment_id].append(refund)  # type: ignore[attr-defined]
    return [by_payment[key] for key in keys]
