"""Reconciliation: compare Stripe's recent Checkout Sessions, PaymentIntents and Refunds with
kassa's records and apply whatever kassa missed, through the same paths events take."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from tortoise.transactions import in_transaction

from kassa.models import Payment, ReconciliationRun, Refund
from kassa.services import checkout, payments, refunds
from kassa.services.stripe_gateway import (
    CheckoutSnapshot,
    PaymentIntentSnapshot,
    RefundSnapshot,
    StripeFailure,
    StripeGateway,
)

log = logging.getLogger(__name__)

Fix = dict[str, object]
Listed = TypeVar("Listed", CheckoutSnapshot, PaymentIntentSnapshot, RefundSnapshot)


async def reconcile(gateway: StripeGateway, since: datetime) -> ReconciliationRun:
    """Check every object Stripe made since `since`; the run, with what it fixed."""
    run = await ReconciliationRun.create(since=since)
    created_from = int(since.timestamp())
    sessions = await _listed("Checkout Sessions", gateway.checkout_sessions_since(created_from))
    intents = await gateway.payment_intents_since(created_from)
    found_refunds = await _listed("Refunds", gateway.refunds_since(created_from))
    # Sessions first, then intents, which say more (the charge, the card, a failure);
    # refunds last, since a refund is only booked on a payment kassa has seen succeed.
    fixes = [
        *await _each(sessions, "checkoutSession", _reconcile_session),
        *await _each(intents, "paymentIntent", lambda intent: _reconcile_intent(intent, gateway)),
        *await _each(found_refunds, "refund", _reconcile_refund),
    ]
    run.checked = len(sessions) + len(intents) + len(found_refunds)
    run.fixed, run.report = len(fixes), fixes
    run.finished_at = datetime.now(UTC)
    await run.save()
    return run


async def _listed(what: str, listing: Awaitable[list[Listed]]) -> list[Listed]:
    try:
        return await listing
    except StripeFailure as exc:
        if not exc.refused:
            raise  # unknown outcome: the run stays unfinished and the next covers its window
        # A restricted key, or a Stripe-compatible server without the endpoint: the rest
        # of the run is still worth doing.
        log.warning("reconciliation: Stripe refused to list %s: %s", what, exc)
        return []


async def _each(
    found: Sequence[Listed], key: str, check: Callable[[Listed], Awaitable[Fix | None]]
) -> list[Fix]:
    fixes: list[Fix] = []
    for item in found:
        try:
            fix = await check(item)
        except Exception as exc:
            # One object kassa cannot reconcile (say, an amount that disagrees) is reported
            # and does not stop the run.
            log.warning("reconciliation of %s failed: %s", item.id, exc)
            fix = {key: item.id, "fix": f"not reconciled: {exc}"[:500]}
        if fix is not None:
            fixes.append(fix)
    return fixes


async def _reconcile_session(session: CheckoutSnapshot) -> Fix | None:
    if session.status == "open":
        return None  # nothing has happened yet that an event could have told
    payment = await Payment.get_or_none(stripe_checkout_session_id=session.id)
    if payment is None:
        return None  # not kassa's; or never recorded, then its intent's metadata names it
    before = payment.status
    async with in_transaction() as conn:
        await checkout.apply_checkout_session(conn, session, None, payments.observed_now())
    await payment.refresh_from_db(fields=["status"])
    if payment.status is before:
        return None
    return _fix(payment, "checkoutSession", session.id, "status brought up to date", before)


async def _reconcile_intent(intent: PaymentIntentSnapshot, gateway: StripeGateway) -> Fix | None:
    payment = await Payment.get_or_none(stripe_payment_intent_id=intent.id)
    if payment is None:
        if "kassa_payment_id" not in intent.metadata:
            return None  # not kassa's: another integration on the same Stripe account
        if await payments.adopt_payment_intent(intent.id, gateway) is not payments.Adoption.ADOPTED:
            return None
        payment = await Payment.get(stripe_payment_intent_id=intent.id)
        return _fix(payment, "paymentIntent", intent.id, "unrecorded intent attached", None)
    before = payment.status
    await payments.record_payment_intent(payment.id, intent)
    await payment.refresh_from_db(fields=["status"])
    if payment.status is before:
        return None
    return _fix(payment, "paymentIntent", intent.id, "status brought up to date", before)


async def _reconcile_refund(snapshot: RefundSnapshot) -> Fix | None:
    known = await Refund.get_or_none(stripe_refund_id=snapshot.id)
    before = known.status if known is not None else None
    try:
        async with in_transaction() as conn:
            refund = await refunds.apply_refund(conn, snapshot, payments.observed_now())
    except refunds.UnknownRefund:
        return None  # a refund of a payment that is not kassa's
    if refund.status is before:
        return None
    log.warning("reconciliation: refund %s (%s) now %s", refund.id, snapshot.id, refund.status)
    return {
        "payment": str(refund.payment_id),  # type: ignore[attr-defined]
        "refund": snapshot.id,
        "fix": "refund brought up to date" if known else "unrecorded refund applied",
        "from": str(before) if before is not None else None,
        "to": str(refund.status),
    }


def _fix(payment: Payment, key: str, stripe_id: str, what: str, before: object) -> Fix:
    log.warning("reconciliation: payment %s (%s): %s", payment.id, stripe_id, what)
    return {
        "payment": str(payment.id),
        key: stripe_id,
        "fix": what,
        "from": str(before) if before is not None else None,
        "to": str(payment.status),
    }


async def last_started() -> datetime | None:
    """When the last run that finished began: a run that crashed covered nothing."""
    run = await ReconciliationRun.filter(finished_at__isnull=False).order_by("-started_at").first()
    return run.started_at if run else None
