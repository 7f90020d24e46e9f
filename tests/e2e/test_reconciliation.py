"""Reconciliation finds what Stripe knows and kassa missed, and fixes it once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.models import LedgerTransfer, Payment, Refund
from kassa.services import reconciliation
from kassa.services.stripe_gateway import CheckoutSnapshot, StripeFailure, StripeGateway
from tests.e2e.hosted_checkout import HostedPage
from tests.e2e.test_checkout import _order_on_checkout
from tests.e2e.test_orders import _order
from tests.support import VISA, Kassa, assert_ledger_consistent

# The local server sends its event about a second after the change; wait it out.
DELIVERY_WINDOW_SECONDS = 2.5


async def test_missed_webhook_is_found_and_applied_once(
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: a card payment whose webhook never reaches kassa
    member = await kassa.member()
    created = await kassa.top_up(member, "11.00")
    secret = kassa.settings.webhook_secrets[0]
    local_stripe.register_webhook("http://127.0.0.1:9/nowhere", secret)
    try:
        await kassa.confirm_with_card(created["payment"]["stripePaymentIntentId"], VISA)
        await asyncio.sleep(DELIVERY_WINDOW_SECONDS)
    finally:
        local_stripe.register_webhook(kassa.webhook_url, secret)
    assert (await kassa.payment(member, created["payment"]["id"]))["status"] != "SUCCEEDED"
    gateway = StripeGateway(SECRET_KEY, api_base=local_stripe.api_base)

    # when
    try:
        since = datetime.now(UTC) - timedelta(minutes=10)
        first = await reconciliation.reconcile(gateway, since)
        second = await reconciliation.reconcile(gateway, since)
    finally:
        await gateway.aclose()

    # then
    intent_id = created["payment"]["stripePaymentIntentId"]
    payment_fixes = [fix for fix in first.report if fix["paymentIntent"] == intent_id]
    assert payment_fixes == [
        {
            "payment": str(uuid.UUID(created["payment"]["id"].removeprefix("pay_"))),
            "paymentIntent": created["payment"]["stripePaymentIntentId"],
            "fix": "status brought up to date",
            "from": "REQUIRES_PAYMENT_METHOD",
            "to": "SUCCEEDED",
        }
    ]
    assert created["payment"]["stripePaymentIntentId"] not in [
        fix["paymentIntent"] for fix in second.report
    ]
    assert (await kassa.wallet(member))["balance"]["amount"] == "11.00"


@asynccontextmanager
async def _webhooks_lost(kassa: Kassa, local_stripe: LocalStripe) -> AsyncIterator[None]:
    """Every event Stripe sends meanwhile goes nowhere."""
    secret = kassa.settings.webhook_secrets[0]
    local_stripe.register_webhook("http://127.0.0.1:9/nowhere", secret)
    try:
        yield
        await asyncio.sleep(DELIVERY_WINDOW_SECONDS)
    finally:
        local_stripe.register_webhook(kassa.webhook_url, secret)


async def _reconcile_twice(
    gateway: StripeGateway,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    since = datetime.now(UTC) - timedelta(minutes=10)
    first = await reconciliation.reconcile(gateway, since)
    second = await reconciliation.reconcile(gateway, since)
    assert first.finished_at is not None and second.finished_at is not None
    return first.report, second.report


def _about(report: list[dict[str, object]], key: str, stripe_id: str) -> list[dict[str, object]]:
    return [fix for fix in report if fix.get(key) == stripe_id]


async def test_checkout_session_whose_events_were_all_missed_is_applied_once(
    kassa: Kassa, local_stripe: LocalStripe, stripe_gateway: StripeGateway
) -> None:
    # given: a session paid on the hosted page whose events (the session's and the
    # intent's) never reach kassa; another still open; one that is not kassa's
    member = await kassa.member()
    order_id, paid = await _order_on_checkout(kassa, member, "31.00")
    _, still_open = await _order_on_checkout(kassa, member, "7.00")
    foreign = await kassa.stripe.v1.checkout.sessions.create_async(
        {
            "mode": "payment",
            "success_url": "https://elsewhere.example/ok",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 500,
                        "product_data": {"name": "not kassa's"},
                    },
                }
            ],
        }
    )
    async with _webhooks_lost(kassa, local_stripe):
        await HostedPage(paid["url"]).pay()
        await HostedPage(str(foreign.url)).pay()
    payment = await Payment.get(stripe_checkout_session_id=paid["sessionId"])
    assert (payment.status, payment.stripe_payment_intent_id) == ("REQUIRES_PAYMENT_METHOD", None)

    # when
    first, second = await _reconcile_twice(stripe_gateway)

    # then: Stripe's list of sessions told; booked once
    assert _about(first, "checkoutSession", paid["sessionId"]) == [
        {
            "payment": str(payment.id),
            "checkoutSession": paid["sessionId"],
            "fix": "status brought up to date",
            "from": "REQUIRES_PAYMENT_METHOD",
            "to": "SUCCEEDED",
        }
    ]
    assert _about(first, "checkoutSession", still_open["sessionId"]) == []
    assert _about(first, "checkoutSession", foreign.id) == []
    assert _about(second, "checkoutSession", paid["sessionId"]) == []
    await payment.refresh_from_db()
    assert payment.status == "SUCCEEDED"
    assert payment.stripe_payment_intent_id is not None
    assert (await _order(kassa, member, order_id))["status"] == "PAID"
    assert await LedgerTransfer.filter(payment=payment).count() == 1


class SessionsNotListed(StripeGateway):
    """A restricted key that may not list Checkout Sessions."""

    async def checkout_sessions_since(self, created_from: int) -> list[CheckoutSnapshot]:
        raise StripeFailure("this key may not list Checkout Sessions", http_status=403)


async def test_checkout_payment_is_recovered_from_its_intent_when_sessions_are_not_listed(
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: a Checkout payment paid at Stripe; none of its events reach kassa
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "31.00")
    async with _webhooks_lost(kassa, local_stripe):
        await HostedPage(started["url"]).pay()
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(started["sessionId"])
    intent_id = str(session.payment_intent)
    gateway = SessionsNotListed(SECRET_KEY, api_base=local_stripe.api_base)

    # when
    try:
        first, second = await _reconcile_twice(gateway)
    finally:
        await gateway.aclose()

    # then: the intent's metadata named the payment; kassa's record agreed; booked once
    payment = await Payment.get(stripe_checkout_session_id=started["sessionId"])
    assert _about(first, "paymentIntent", intent_id) == [
        {
            "payment": str(payment.id),
            "paymentIntent": intent_id,
            "fix": "unrecorded intent attached",
            "from": None,
            "to": "SUCCEEDED",
        }
    ]
    assert _about(second, "paymentIntent", intent_id) == []
    assert (payment.status, payment.stripe_payment_intent_id) == ("SUCCEEDED", intent_id)
    assert (await _order(kassa, member, order_id))["status"] == "PAID"
    assert await LedgerTransfer.filter(payment=payment).count() == 1


async def test_refund_made_at_stripe_whose_events_were_missed_is_booked_once(
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: a paid top-up, refunded in part at Stripe (the dashboard); no event arrives
    member = await kassa.member()
    created = await kassa.top_up(member, "10.00")
    payment_id, intent_id = created["payment"]["id"], created["payment"]["stripePaymentIntentId"]
    await kassa.confirm_with_card(intent_id, VISA)
    assert (await kassa.wait_for_status(member, payment_id, "SUCCEEDED"))["status"] == "SUCCEEDED"
    async with _webhooks_lost(kassa, local_stripe):
        refund = await kassa.stripe.v1.refunds.create_async(
            {"payment_intent": intent_id, "amount": 400}
        )
    assert (await kassa.wallet(member))["balance"]["amount"] == "10.00"
    gateway = StripeGateway(SECRET_KEY, api_base=local_stripe.api_base)

    # when
    try:
        first, second = await _reconcile_twice(gateway)
    finally:
        await gateway.aclose()

    # then
    payment_uuid = uuid.UUID(payment_id.removeprefix("pay_"))
    assert _about(first, "refund", refund.id) == [
        {
            "payment": str(payment_uuid),
            "refund": refund.id,
            "fix": "unrecorded refund applied",
            "from": None,
            "to": "SUCCEEDED",
        }
    ]
    assert _about(second, "refund", refund.id) == []
    assert await Refund.filter(payment_id=payment_uuid).count() == 1
    assert (await Payment.get(id=payment_uuid)).amount_refunded == 400
    assert (await kassa.wallet(member))["balance"]["amount"] == "6.00"
    await assert_ledger_consistent()
