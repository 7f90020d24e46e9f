"""Stripe's subscriptions and their invoices, applied to kassa's record.

Every change comes here, from a webhook event or from the object Stripe answered a mutation
with, inside the caller's transaction: the subscription row is locked first, then the
invoice's payment, then (through the payment's success) the organization's credits.

Each invoice that charges money is one SUBSCRIPTION payment (unique on the Stripe invoice
id), booked in the ledger like any payment when it succeeds, and its success fills one
credit lot (unique on the payment) with the credits its plan version grants for what it
charged (`plans.credits_for`). However often and in whatever order `invoice.paid`,
`invoice.payment_succeeded`, `payment_intent.succeeded` and the subscription's events
arrive, the payment succeeds once and fills one lot.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.ids import IdKind, encode
from kassa.models import (
    CreditPlan,
    CreditSubscription,
    Organization,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    SubscriptionStatus,
)
from kassa.services import host_notifications, payments, plans, recovery
from kassa.services.errors import StripeMismatch
from kassa.services.stripe_gateway import (
    InvoiceSnapshot,
    PaymentIntentSnapshot,
    SubscriptionSnapshot,
)

STATUS = {
    "incomplete": SubscriptionStatus.INCOMPLETE,
    "trialing": SubscriptionStatus.ACTIVE,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.UNPAID,
    "canceled": SubscriptionStatus.CANCELED,
    "incomplete_expired": SubscriptionStatus.CANCELED,
}
# What a paid invoice makes of its subscription (Stripe does the same), and a failed one.
PAID_REVIVES = (
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
)
FAILED_INVOICE = "invoice_payment_failed"


class UnknownSubscription(Exception):
    """An invoice of a Stripe subscription kassa does not know (yet): retried, since the
    subscription's id is recorded when Stripe's answer to subscribing is applied."""


class SubscriptionMismatch(StripeMismatch):
    """An invoice charges what kassa's plan does not (another currency, more than its price,
    a Price kassa does not sell)."""


async def record(subscription_id: uuid.UUID, snapshot: SubscriptionSnapshot) -> None:
    """Apply a subscription Stripe answered with (and its latest invoice, when expanded),
    through the same path as its events."""
    async with in_transaction() as conn:
        subscription = (
            await CreditSubscription.select_for_update(no_key=True)
            .using_db(conn)
            .get(id=subscription_id)
        )
        observed = payments.observed_now()
        await apply_subscription(conn, subscription, snapshot, observed)
        if snapshot.latest_invoice is not None:
            await apply_invoice(conn, subscription, snapshot.latest_invoice, observed)


async def apply_subscription_event(
    conn: BaseDBAsyncClient, snapshot: SubscriptionSnapshot, observed_at: datetime
) -> bool:
    """A `customer.subscription.*` event; False when the subscription is not kassa's."""
    subscription = await _locked(conn, snapshot.id) or await _adopted(conn, snapshot)
    if subscription is None:
        return False
    await _check_customer(conn, subscription, snapshot.customer_id, f"subscription {snapshot.id}")
    await apply_subscription(conn, subscription, snapshot, observed_at)
    return True


async def apply_invoice_event(
    conn: BaseDBAsyncClient, invoice: InvoiceSnapshot, event_type: str, observed_at: datetime
) -> Payment | None:
    """An `invoice.*` event: the invoice's payment, if it charges money."""
    if invoice.subscription_id is None:
        return None  # a one-off invoice: kassa makes none
    subscription = await _locked(conn, invoice.subscription_id)
    if subscription is None:
        raise UnknownSubscription(f"no subscription for Stripe's {invoice.subscription_id}")
    await _check_customer(conn, subscription, invoice.customer_id, f"invoice {invoice.id}")
    failed = event_type == "invoice.payment_failed"
    return await apply_invoice(conn, subscription, invoice, observed_at, failed=failed)


async def _locked(conn: BaseDBAsyncClient, stripe_id: str) -> CreditSubscription | None:
    return (
        await CreditSubscription.select_for_update(no_key=True)
        .using_db(conn)
        .get_or_none(stripe_subscription_id=stripe_id)
    )


async def _adopted(
    conn: BaseDBAsyncClient, snapshot: SubscriptionSnapshot
) -> CreditSubscription | None:
    """The subscription kassa asked for, named by the metadata of an event that overtook
    Stripe's answer (whose customer the caller checks, as for any subscription found)."""
    try:
        named = uuid.UUID(snapshot.metadata.get("kassa_subscription_id", ""))
    except ValueError:
        return None
    return (
        await CreditSubscription.select_for_update(no_key=True)
        .using_db(conn)
        .get_or_none(id=named, stripe_subscription_id__isnull=True)
    )


async def _check_customer(
    conn: BaseDBAsyncClient, subscription: CreditSubscription, customer_id: str | None, what: str
) -> None:
    """What Stripe says of a subscription is only taken if it bills the organization's own
    customer: its id alone is not enough to move another organization's money."""
    organization_id = subscription.organization_id  # type: ignore[attr-defined]
    organization = await Organization.filter(id=organization_id).using_db(conn).get()
    if customer_id is None or organization.stripe_customer_id != customer_id:
        raise SubscriptionMismatch(
            f"{what} of kassa's subscription {subscription.id} bills {customer_id}, "
            "not its organization's customer"
        )


async def apply_subscription(
    conn: BaseDBAsyncClient,
    subscription: CreditSubscription,
    snapshot: SubscriptionSnapshot,
    observed_at: datetime,
) -> None:
    """Bring a locked subscription to `snapshot`, unless kassa has applied a newer state."""
    subscription.stripe_subscription_id = subscription.stripe_subscription_id or snapshot.id
    if _is_stale(subscription, observed_at):
        await subscription.save(using_db=conn, update_fields=["stripe_subscription_id"])
        return
    version = await plans.billed_by(conn, [snapshot.price_id]) if snapshot.price_id else None
    if version is not None:
        subscription.plan_code = version.code
        subscription.stripe_price_id = version.stripe_price_id
    subscription.current_period_start = _moment(snapshot.current_period_start)
    subscription.current_period_end = _moment(snapshot.current_period_end)
    subscription.cancel_at_period_end = snapshot.cancel_at_period_end
    status = STATUS.get(snapshot.status, subscription.status)
    await _move(conn, subscription, status, observed_at)


def _is_stale(subscription: CreditSubscription, observed_at: datetime) -> bool:
    # CANCELED is final: Stripe never bills a canceled subscription again.
    last = subscription.last_stripe_event_at
    return subscription.status is SubscriptionStatus.CANCELED or (
        last is not None and observed_at < last
    )


def _moment(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


async def _move(
    conn: BaseDBAsyncClient,
    subscription: CreditSubscription,
    status: SubscriptionStatus,
    observed_at: datetime,
) -> None:
    subscription.status = status
    last = subscription.last_stripe_event_at
    subscription.last_stripe_event_at = max(observed_at, last or observed_at)
    await subscription.save(using_db=conn)
    await host_notifications.queue(
        conn,
        subscription.organization_id,  # type: ignore[attr-defined]
        "subscription.updated",
        # Told once per state the host app can see.
        f"subscription:{subscription.id}:{status}:{subscription.stripe_price_id}:"
        f"{subscription.cancel_at_period_end}",
        {
            "id": encode(IdKind.SUBSCRIPTION, subscription.id),
            "plan": subscription.plan_code,
            "status": status.value,
            "cancelAtPeriodEnd": subscription.cancel_at_period_end,
        },
    )


async def apply_invoice(
    conn: BaseDBAsyncClient,
    subscription: CreditSubscription,
    invoice: InvoiceSnapshot,
    observed_at: datetime,
    *,
    failed: bool = False,
) -> Payment | None:
    """The invoice's payment brought to the invoice's state, and the subscription after it
    (paid: ACTIVE again; failed: PAST_DUE). An invoice that charges nothing (a downgrade's
    credit) has no payment and grants no credits."""
    payment = None
    if invoice.amount_due > 0 and invoice.payment_intent_id is not None:
        plan = await plans.billed_by(conn, invoice.price_ids)
        _check_invoice(invoice, plan)
        assert plan is not None
        payment = await _payment_of(conn, subscription, invoice, plan)
        intent = _as_intent(invoice, failed)
        if intent is not None:
            await payments.apply_payment_intent(conn, payment, intent, observed_at)
        if failed and payment.status is PaymentStatus.FAILED:
            # The billing contact gets a link to pay it, once per attempt Stripe made.
            attempt = f"{invoice.id}:{invoice.attempt_count}"
            await recovery.queue_recovery(conn, payment, attempt=attempt)
    if failed and payment is not None and payment.status is PaymentStatus.SUCCEEDED:
        # An earlier attempt's failure told after a retry paid the invoice: nothing is due.
        return payment
    if invoice.status == "paid" or failed:
        await _follow_invoice(conn, subscription, paid=not failed, observed_at=observed_at)
    return payment


def _check_invoice(invoice: InvoiceSnapshot, plan: CreditPlan | None) -> None:
    if plan is None:
        raise SubscriptionMismatch(
            f"invoice {invoice.id} charges none of kassa's plans ({', '.join(invoice.price_ids)})"
        )
    if invoice.currency != plan.currency or invoice.amount_due > plan.price:
        raise SubscriptionMismatch(
            f"invoice {invoice.id} charges {invoice.amount_due} {invoice.currency}; plan "
            f"{plan.stripe_price_id} costs {plan.price} {plan.currency}"
        )


async def _payment_of(
    conn: BaseDBAsyncClient,
    subscription: CreditSubscription,
    invoice: InvoiceSnapshot,
    plan: CreditPlan,
) -> Payment:
    """The invoice's one payment, made on first sight, locked."""
    credits = plans.credits_for(plan, invoice.amount_due)
    await conn.execute_query(
        INSERT_INVOICE_PAYMENT,
        [
            uuid.uuid4(),
            subscription.organization_id,  # type: ignore[attr-defined]
            PaymentPurpose.SUBSCRIPTION.value,
            PaymentStatus.REQUIRES_PAYMENT_METHOD.value,
            invoice.amount_due,
            invoice.currency,
            invoice.payment_intent_id,
            invoice.id,
            plan.stripe_price_id,
            subscription.id,
            credits or None,
            subscription.credit_expiry_days,
            subscription.receipt_email,
            subscription.created_by,
        ],
    )
    rows = await conn.execute_query_dict(
        "SELECT * FROM payments WHERE stripe_invoice_id = $1 FOR NO KEY UPDATE", [invoice.id]
    )
    if not rows:
        raise SubscriptionMismatch(
            f"invoice {invoice.id}: its PaymentIntent {invoice.payment_intent_id} pays another "
            "payment of kassa's"
        )
    payment = Payment._init_from_db(**rows[0])
    if payment.subscription_id != subscription.id:  # type: ignore[attr-defined]
        raise SubscriptionMismatch(
            f"invoice {invoice.id} names subscription {invoice.subscription_id}; its payment "
            f"{payment.id} is another subscription's"
        )
    if (payment.amount, payment.currency) != (invoice.amount_due, invoice.currency):
        raise SubscriptionMismatch(
            f"invoice {invoice.id} now charges {invoice.amount_due} {invoice.currency}, its "
            f"payment {payment.id} is {payment.amount} {payment.currency}"
        )
    return payment


INSERT_INVOICE_PAYMENT = (
    "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
    "amount_refunded, stripe_payment_intent_id, stripe_invoice_id, stripe_price_id, "
    "subscription_id, credits, credit_expiry_days, receipt_email, created_by, via_checkout, "
    "duplicate, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14, false, false, "
    "now(), now()) ON CONFLICT DO NOTHING"
)


def _as_intent(invoice: InvoiceSnapshot, failed: bool) -> PaymentIntentSnapshot | None:
    """The invoice's state as its PaymentIntent's, for `payments.apply_payment_intent`: the
    intent itself when Stripe's answer expanded it; paid or failed from the invoice; else
    nothing to apply (finalized, open: Stripe is charging it)."""
    if invoice.payment_intent is not None and not failed:
        return invoice.payment_intent
    if invoice.status == "paid":
        status, failure = "succeeded", None
    elif failed:
        status, failure = "requires_payment_method", FAILED_INVOICE
    else:
        return None
    return PaymentIntentSnapshot(
        id=invoice.payment_intent_id or invoice.id,
        status=status,
        amount=invoice.amount_due,
        amount_received=invoice.amount_paid,
        currency=invoice.currency,
        client_secret=None,
        charge_id=None,
        payment_method_id=None,
        card=None,
        failure_code=failure,
        failure_message=f"attempt {invoice.attempt_count} to pay the invoice failed"
        if failure
        else None,
        metadata={},
        created=None,
    )


async def _follow_invoice(
    conn: BaseDBAsyncClient,
    subscription: CreditSubscription,
    *,
    paid: bool,
    observed_at: datetime,
) -> None:
    if _is_stale(subscription, observed_at):
        return
    status = subscription.status
    if paid and status in PAID_REVIVES:
        status = SubscriptionStatus.ACTIVE
    elif not paid and status is SubscriptionStatus.ACTIVE:
        status = SubscriptionStatus.PAST_DUE
    if status is not subscription.status:
        await _move(conn, subscription, status, observed_at)
