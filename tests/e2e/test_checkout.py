"""Orders paid on Stripe Checkout: the events that settle them and the success page.

The local Stripe-compatible server has no Checkout Sessions, so a session is what the
fixture says and its payment is recorded as `startCheckout` records it against Stripe.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from unittest.mock import ANY

from kassa.models import LedgerTransfer, Order, Payment, PaymentPurpose, StripeEvent
from tests.e2e.checkout_at_stripe import CheckoutAtStripe, start_order_checkout
from tests.e2e.test_orders import _create, _order
from tests.support import (
    JSON,
    WEBHOOK_GRACE_SECONDS,
    Kassa,
    Member,
    fixture,
    stripe_event,
    wait_for_event,
)

START = """
mutation Start($input: StartCheckoutInput!) {
  startCheckout(input: $input) {
    ... on CheckoutStarted { sessionId url payment { id status } }
    ... on UserError { code message field }
  }
}
"""
STATUS = """
query Status($id: String!) {
  checkoutStatus(sessionId: $id) { sessionId status paymentStatus payment { status } }
}
"""


async def _checkout_payment(member: Member, order_id: str) -> Payment:
    order = await Order.get(id=order_id.removeprefix("ord_")).prefetch_related("organization")
    return await Payment.create(
        organization=order.organization,
        purpose=PaymentPurpose.ORDER,
        order=order,
        amount=order.amount,
        currency=order.currency,
        stripe_checkout_session_id=f"cs_test_{uuid.uuid4().hex}",
        via_checkout=True,
    )


async def _event_about(object_id: str, event_type: str) -> StripeEvent:
    deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
    while True:
        event = await StripeEvent.filter(object_id=object_id, type=event_type).first()
        if event is not None:
            return event
        assert time.monotonic() < deadline, f"no {event_type} for {object_id} arrived"
        await asyncio.sleep(0.1)


def _session(payment: Payment, **fields: Any) -> JSON:
    session: JSON = fixture("checkout.session")
    session.update(
        id=payment.stripe_checkout_session_id,
        amount_total=payment.amount,
        currency=payment.currency,
        payment_intent=f"pi_cs_{uuid.uuid4().hex[:20]}",
        metadata={},
        **fields,
    )
    return session


async def test_completed_session_pays_the_order_once(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order = await _create(kassa, member, amount="42.00", currency="usd")
    payment = await _checkout_payment(member, order["order"]["id"])
    session = _session(payment, status="complete", payment_status="paid")

    # when: Stripe delivers the completion three times
    for _ in range(3):
        stored = await kassa.deliver_and_wait(stripe_event("checkout.session.completed", session))
        assert stored.status == "PROCESSED"

    # then
    await payment.refresh_from_db()
    assert payment.status == "SUCCEEDED"
    assert payment.stripe_payment_intent_id == session["payment_intent"]
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "PAID"
    assert await LedgerTransfer.filter(payment=payment).count() == 1
    status = await kassa.gql(STATUS, {"id": session["id"]}, member.token)
    assert status["data"]["checkoutStatus"] == {
        "sessionId": session["id"],
        "status": "complete",
        "paymentStatus": "paid",
        "payment": {"status": "SUCCEEDED"},
    }


async def test_delayed_payment_that_fails_fails_the_order(kassa: Kassa) -> None:
    member = await kassa.member()
    order = await _create(kassa, member, amount="19.00", currency="usd")
    payment = await _checkout_payment(member, order["order"]["id"])
    unpaid = _session(payment, status="complete", payment_status="unpaid")

    await kassa.deliver_and_wait(stripe_event("checkout.session.completed", unpaid))
    await payment.refresh_from_db()
    assert payment.status == "PROCESSING"
    await kassa.deliver_and_wait(stripe_event("checkout.session.async_payment_failed", unpaid))

    await payment.refresh_from_db()
    assert payment.status == "FAILED"
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "FAILED"


async def test_expired_session_cancels_and_is_private(kassa: Kassa) -> None:
    member = await kassa.member()
    stranger = await kassa.member()
    order = await _create(kassa, member, amount="8.00", currency="usd")
    payment = await _checkout_payment(member, order["order"]["id"])

    await kassa.deliver_and_wait(
        stripe_event("checkout.session.expired", _session(payment, status="expired"))
    )

    await payment.refresh_from_db()
    assert payment.status == "CANCELED"
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "CANCELED"
    session_id = payment.stripe_checkout_session_id
    hidden = await kassa.gql(STATUS, {"id": session_id}, stranger.token)
    assert hidden == {"data": {"checkoutStatus": None}}


async def test_start_checkout_refuses_bad_urls_and_reports_stripe_failures(kassa: Kassa) -> None:
    member = await kassa.member()
    order = await _create(kassa, member, amount="5.00", currency="usd")
    base = {"orderId": order["order"]["id"], "cancelUrl": "https://shop.example/cart"}

    bad_url = await kassa.gql(
        START, {"input": {**base, "successUrl": "javascript:alert(1)"}}, member.token
    )
    # The local Stripe-compatible server has no Checkout: Stripe's refusal is reported.
    refused = await kassa.gql(
        START,
        {"input": {**base, "successUrl": "https://shop.example/ok?s={CHECKOUT_SESSION_ID}"}},
        member.token,
    )

    assert bad_url["data"]["startCheckout"]["field"] == "successUrl"
    assert refused["data"]["startCheckout"]["code"] == "PAYMENT_PROVIDER_ERROR"
    payments = await Payment.filter(order_id=order["order"]["id"].removeprefix("ord_"))
    assert [payment.status for payment in payments] == ["FAILED"]
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "PENDING"


async def test_start_checkout_refuses_urls_that_cannot_be_parsed_before_any_payment(
    kassa: Kassa,
) -> None:
    member = await kassa.member()
    order = await _create(kassa, member, amount="5.00", currency="usd")
    base = {"orderId": order["order"]["id"], "successUrl": "https://shop.example/ok"}

    answers = [
        await kassa.gql(START, {"input": {**base, "cancelUrl": url}}, member.token)
        for url in ("http://[::1/cart", "https://shop.example:99999/", "https://sh op.example/")
    ]

    assert [answer["data"]["startCheckout"] for answer in answers] == [
        {"code": "INVALID_INPUT", "message": ANY, "field": "cancelUrl"}
    ] * 3
    assert not await Payment.filter(order_id=order["order"]["id"].removeprefix("ord_")).exists()


async def test_intent_event_settles_a_checkout_payment_whose_session_event_was_missed(
    kassa: Kassa, checkout_at_stripe: CheckoutAtStripe
) -> None:
    # given: a Checkout payment paid at Stripe; `checkout.session.completed` never arrives
    member = await kassa.member()
    order = await _create(kassa, member, amount="27.00", currency="usd")
    payment = await start_order_checkout(member, order["order"]["id"], checkout_at_stripe)
    assert payment.stripe_payment_intent_id is None
    sent = checkout_at_stripe.sessions[payment.stripe_checkout_session_id or ""]
    assert sent["payment_intent_data"]["metadata"] == {
        "kassa_payment_id": str(payment.id),
        "kassa_organization_id": str(payment.organization_id),  # type: ignore[attr-defined]
        "kassa_purpose": "ORDER",
        "kassa_order_id": str(uuid.UUID(order["order"]["id"].removeprefix("ord_"))),
    }

    # when: only the intent's own event reaches kassa, which knows no payment by that intent
    intent_id = await checkout_at_stripe.pay(kassa, payment.stripe_checkout_session_id or "")
    succeeded = await _event_about(intent_id, "payment_intent.succeeded")
    stored = await wait_for_event(succeeded.id, attempts=99)

    # then: kassa read the intent, recognised its payment, and applied the event once
    assert (stored.status, stored.last_error) == ("PROCESSED", None)
    payment = await Payment.get(id=payment.id)
    assert (payment.status, payment.stripe_payment_intent_id) == ("SUCCEEDED", intent_id)
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "PAID"
    assert await LedgerTransfer.filter(payment=payment).count() == 1

    # and the session's completion, arriving at last, books nothing more
    late = _session(payment, status="complete", payment_status="paid")
    late["payment_intent"] = intent_id
    completed = await kassa.deliver_and_wait(stripe_event("checkout.session.completed", late))
    assert completed.status == "PROCESSED"
    assert await LedgerTransfer.filter(payment=payment).count() == 1
