"""Disputes: a cardholder's bank takes a charge back (`charge.dispute.created`).

The dispute is recorded on its payment and the host app is told; money moves only when
Stripe settles the dispute, which kassa does not book yet.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.ids import IdKind, encode
from kassa.models import Organization, Payment
from kassa.money import Money
from kassa.services.live_updates import announce_payment_updated
from kassa.services.mail import queue_admin_alert
from kassa.services.payments import PaymentMismatch, UnknownPaymentIntent, notify_host
from kassa.services.stripe_gateway import DisputeSnapshot


class UnknownCharge(Exception):
    """A dispute of a charge kassa has no payment for (retried, then dead)."""


async def record_dispute(conn: BaseDBAsyncClient, dispute: DisputeSnapshot) -> Payment:
    payment = await _disputed_payment(conn, dispute)
    if dispute.currency != payment.currency or not 0 < dispute.amount <= payment.amount:
        raise PaymentMismatch(
            f"dispute {dispute.id} is {dispute.amount} {dispute.currency}, "
            f"payment {payment.id} is {payment.amount} {payment.currency}"
        )
    payment.stripe_dispute_id = dispute.id
    payment.dispute_status = dispute.status
    payment.dispute_reason = dispute.reason
    payment.dispute_amount = dispute.amount
    await payment.save(
        using_db=conn,
        update_fields=["stripe_dispute_id", "dispute_status", "dispute_reason", "dispute_amount"],
    )
    await announce_payment_updated(conn, payment.id)
    await _notify_host(conn, payment, dispute)
    await _alert_admins(conn, payment, dispute)
    return payment


async def _alert_admins(
    conn: BaseDBAsyncClient, payment: Payment, dispute: DisputeSnapshot
) -> None:
    organization = await Organization.filter(id=payment.organization_id).using_db(conn).get()  # type: ignore[attr-defined]
    await queue_admin_alert(
        conn,
        template="dispute_alert",
        about=dispute.id,
        context={
            "payment_id": encode(IdKind.PAYMENT, payment.id),
            "payment_amount": Money.of_minor(payment.amount, payment.currency).format(),
            "amount": Money.of_minor(dispute.amount, dispute.currency).format(),
            "currency": dispute.currency.upper(),
            "organization": f"{organization.name} ({organization.external_id})",
            "reason": dispute.reason,
            "status": dispute.status,
            "dispute_id": dispute.id,
        },
    )


async def _disputed_payment(conn: BaseDBAsyncClient, dispute: DisputeSnapshot) -> Payment:
    query = Payment.select_for_update(no_key=True).using_db(conn)
    if dispute.payment_intent_id:
        payment = await query.get_or_none(stripe_payment_intent_id=dispute.payment_intent_id)
        if payment is None:
            raise UnknownPaymentIntent(dispute.payment_intent_id)
        return payment
    found = await query.filter(stripe_charge_id=dispute.charge_id).first()
    if found is None or dispute.charge_id is None:
        raise UnknownCharge(f"no payment for charge {dispute.charge_id} of dispute {dispute.id}")
    return found


async def _notify_host(conn: BaseDBAsyncClient, payment: Payment, dispute: DisputeSnapshot) -> None:
    disputed = Money.of_minor(dispute.amount, dispute.currency)
    await notify_host(
        conn,
        payment,
        "payment.disputed",
        f"dispute:{dispute.id}:{dispute.status}",
        status=payment.status.value,
        dispute={
            "status": dispute.status,
            "reason": dispute.reason,
            "amount": disputed.format(),
            "currency": disputed.currency,
        },
    )
