"""Reconciliation finds what Stripe knows and kassa missed, and fixes it once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.services import reconciliation
from kassa.services.stripe_gateway import StripeGateway
from tests.support import VISA, Kassa

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
