"""Reconciliation: compare Stripe's recent PaymentIntents with kassa's payments and apply
whatever kassa missed, through the same path events take."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kassa.models import Payment, ReconciliationRun
from kassa.services import payments
from kassa.services.stripe_gateway import PaymentIntentSnapshot, StripeGateway

log = logging.getLogger(__name__)


async def reconcile(gateway: StripeGateway, since: datetime) -> ReconciliationRun:
    """Check every PaymentIntent created since `since`; the run, with what it fixed."""
    run = await ReconciliationRun.create(since=since)
    fixes: list[dict[str, object]] = []
    intents = await gateway.payment_intents_since(int(since.timestamp()))
    for intent in intents:
        try:
            fix = await _reconcile_intent(intent, gateway)
        except Exception as exc:
            # One intent kassa cannot reconcile (say, an amount that disagrees) is reported
            # and does not stop the run.
            log.warning("reconciliation of %s failed: %s", intent.id, exc)
            fix = {"paymentIntent": intent.id, "fix": f"not reconciled: {exc}"[:500]}
        if fix is not None:
            fixes.append(fix)
    run.checked, run.fixed, run.report = len(intents), len(fixes), fixes
    run.finished_at = datetime.now(UTC)
    await run.save()
    return run


async def _reconcile_intent(
    intent: PaymentIntentSnapshot, gateway: StripeGateway
) -> dict[str, object] | None:
    payment = await Payment.get_or_none(stripe_payment_intent_id=intent.id)
    if payment is None:
        if "kassa_payment_id" not in intent.metadata:
            return None  # not kassa's: another integration on the same Stripe account
        if await payments.adopt_payment_intent(intent.id, gateway) is not payments.Adoption.ADOPTED:
            return None
        payment = await Payment.get(stripe_payment_intent_id=intent.id)
        return _fix(payment, intent, "unrecorded intent attached", None)
    before = payment.status
    await payments.record_payment_intent(payment.id, intent)
    await payment.refresh_from_db(fields=["status"])
    if payment.status is before:
        return None
    return _fix(payment, intent, "status brought up to date", before)


def _fix(
    payment: Payment, intent: PaymentIntentSnapshot, what: str, before: object
) -> dict[str, object]:
    log.warning("reconciliation: payment %s (%s): %s", payment.id, intent.id, what)
    return {
        "payment": str(payment.id),
        "paymentIntent": intent.id,
        "fix": what,
        "from": str(before) if before is not None else None,
        "to": str(payment.status),
    }


async def last_started() -> datetime | None:
    """When the last run that finished began: a run that crashed covered nothing."""
    run = await ReconciliationRun.filter(finished_at__isnull=False).order_by("-started_at").first()
    return run.started_at if run else None
