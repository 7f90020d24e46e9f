"""Orders paid on Stripe Checkout: `startCheckout`, the hosted page of the local
Stripe-compatible server, the signed events it sends, and the success page's status check.

Delayed payment methods (bank debits) the local server cannot produce: those sessions are
Stripe's own fixture objects, signed as Stripe signs its events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from unittest.mock import ANY

import httpx

from kassa.demo.local_stripe import LocalStripe
from kassa.models import LedgerTransfer, Order, Payment, PaymentPurpose, StripeEvent
from tests.e2e.hosted_checkout import (
    START,
    THREE_D_SECURE,
    HostedPage,
    start_checkout,
)
from tests.e2e.test_orders import _create, _order, _wait_for_order
from tests.support import (
    DECLINED,
    JSON,
    WEBHOOK_GRACE_SECONDS,
    Kassa,
    Member,
    fixture,
    stripe_event,
    wait_for_event,
)

STATUS = """
query Status($id: String!) {
  checkoutStatus(sessionId: $id) { sessionId status paymentStatus payment { status } }
}
"""


async def _checkout_payment(member: Member, order_id: str) -> Payment:
    """A Checkout payment as kassa records it, for sessions only Stripe's fixtures describe."""
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


async def _processed(object_id: str, event_type: str) -> StripeEvent:
    event = await wait_for_event((await _event_about(object_id, event_type)).id)
    assert (event.status, event.last_error) == ("PROCESSED", None)
    return event


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


async def _order_on_checkout(kassa: Kassa, member: Member, amount: str) -> tuple[str, JSON]:
    order_id: str = (await _create(kassa, member, amount=amount, currency="usd"))["order"]["id"]
    return order_id, await start_checkout(kassa, member, orderId=order_id)


async def test_order_paid_on_the_hosted_page_is_paid_once(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "42.00")
    page = HostedPage(started["url"])
    assert 'data-testid="checkout-amount">42.00 USD<' in await page.html()

    # when
    paid = await page.pay()

    # then: Stripe's redirect, its signed completion, the order paid and booked once
    session_id = started["sessionId"]
    assert paid.json() == {
        "status": "complete",
        "redirect_url": f"https://shop.example/thanks?s={session_id}",
    }
    completed = await _processed(session_id, "checkout.session.completed")
    assert (await _wait_for_order(kassa, member, order_id, "PAID"))["status"] == "PAID"
    payment = await Payment.get(stripe_checkout_session_id=session_id)
    assert payment.status == "SUCCEEDED"
    status = await kassa.gql(STATUS, {"id": session_id}, member.token)
    assert status["data"]["checkoutStatus"] == {
        "sessionId": session_id,
        "status": "complete",
        "paymentStatus": "paid",
        "payment": {"status": "SUCCEEDED"},
    }

    # and Stripe delivering the completion again books nothing more
    for _ in range(2):
        again = await kassa.deliver_and_wait(completed.payload)
        assert again.status == "PROCESSED"
    assert await LedgerTransfer.filter(payment=payment).count() == 1


async def test_the_intent_stripe_makes_for_a_session_names_kassas_payment(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "27.00")

    # when
    await HostedPage(started["url"]).pay()

    # then: amount, customer and `payment_intent_data[metadata]` as kassa asked
    await _processed(started["sessionId"], "checkout.session.completed")
    payment = await Payment.get(stripe_checkout_session_id=started["sessionId"]).prefetch_related(
        "organization"
    )
    intent = await kassa.stripe.v1.payment_intents.retrieve_async(
        payment.stripe_payment_intent_id or ""
    )
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 2700, "usd")
    assert intent.customer == payment.organization.stripe_customer_id
    assert intent.metadata.to_dict() == {
        "kassa_payment_id": str(payment.id),
        "kassa_organization_id": str(payment.organization.id),
        "kassa_purpose": "ORDER",
        "kassa_order_id": str(uuid.UUID(order_id.removeprefix("ord_"))),
    }


async def test_a_declined_card_leaves_the_session_open_for_another(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "13.00")
    page = HostedPage(started["url"])

    # when
    declined = await page.pay(DECLINED)
    paid = await page.pay()

    # then
    assert (declined.status_code, declined.json()["error"]["code"]) == (402, "card_declined")
    assert paid.json()["status"] == "complete"
    await _processed(started["sessionId"], "checkout.session.completed")
    assert (await _wait_for_order(kassa, member, order_id, "PAID"))["status"] == "PAID"
    payment = await Payment.get(stripe_checkout_session_id=started["sessionId"])
    assert await LedgerTransfer.filter(payment=payment).count() == 1


async def test_a_three_d_secure_card_pays_once_authenticated(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "18.00")
    page = HostedPage(started["url"])

    # when: the customer fails the challenge once, then passes it
    failed = await page.pay(THREE_D_SECURE, authenticate=False)
    passed = await page.pay(THREE_D_SECURE)

    # then
    assert failed.status_code == 402
    assert failed.json()["error"]["code"] == "payment_intent_authentication_failure"
    assert passed.json()["status"] == "complete"
    await _processed(started["sessionId"], "checkout.session.completed")
    assert (await _wait_for_order(kassa, member, order_id, "PAID"))["status"] == "PAID"


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
    # given
    member = await kassa.member()
    stranger = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "8.00")

    # when: Stripe expires the session (its 24 hours are up)
    expired = await kassa.stripe.v1.checkout.sessions.expire_async(started["sessionId"])

    # then
    assert (expired.status, expired.url) == ("expired", None)
    await _processed(started["sessionId"], "checkout.session.expired")
    payment = await Payment.get(stripe_checkout_session_id=started["sessionId"])
    assert payment.status == "CANCELED"
    assert (await _order(kassa, member, order_id))["status"] == "CANCELED"
    assert "has expired" in await HostedPage(started["url"]).html()
    hidden = await kassa.gql(STATUS, {"id": started["sessionId"]}, stranger.token)
    assert hidden == {"data": {"checkoutStatus": None}}


async def test_start_checkout_refuses_bad_urls_and_reports_stripe_failures(kassa: Kassa) -> None:
    # given: the organization's Stripe customer was deleted at Stripe (in its dashboard)
    member = await kassa.member()
    _, first = await _order_on_checkout(kassa, member, "5.00")
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(first["sessionId"])
    await kassa.stripe.v1.customers.delete_async(str(session.customer))
    order = await _create(kassa, member, amount="5.00", currency="usd")
    base = {"orderId": order["order"]["id"], "cancelUrl": "https://shop.example/cart"}

    # when
    bad_url = await kassa.gql(
        START, {"input": {**base, "successUrl": "javascript:alert(1)"}}, member.token
    )
    refused = await kassa.gql(
        START,
        {"input": {**base, "successUrl": "https://shop.example/ok?s={CHECKOUT_SESSION_ID}"}},
        member.token,
    )

    # then: Stripe's refusal is reported; the order can still be paid
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
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: a Checkout payment whose `checkout.session.completed` never reaches kassa
    member = await kassa.member()
    order_id, started = await _order_on_checkout(kassa, member, "27.00")
    secret = kassa.settings.webhook_secrets[0]
    _register(local_stripe, kassa.webhook_url, secret, ["payment_intent.succeeded"])
    try:
        # when: only the intent's own event arrives, for an intent kassa never recorded
        await HostedPage(started["url"]).pay()
        succeeded = await _event_about_intent_of(kassa, started["sessionId"])
        stored = await wait_for_event(succeeded.id, attempts=99)
    finally:
        local_stripe.register_webhook(kassa.webhook_url, secret)

    # then: kassa read the intent, recognised its payment, and applied the event once
    assert (stored.status, stored.last_error) == ("PROCESSED", None)
    payment = await Payment.get(stripe_checkout_session_id=started["sessionId"])
    assert (payment.status, payment.stripe_payment_intent_id) == ("SUCCEEDED", stored.object_id)
    assert (await _order(kassa, member, order_id))["status"] == "PAID"
    assert await LedgerTransfer.filter(payment=payment).count() == 1

    # and the session's completion, arriving at last, books nothing more
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(started["sessionId"])
    late = stripe_event("checkout.session.completed", session.to_dict())
    completed = await kassa.deliver_and_wait(late)
    assert completed.status == "PROCESSED"
    assert await LedgerTransfer.filter(payment=payment).count() == 1


def _register(local_stripe: LocalStripe, url: str, secret: str, events: list[str]) -> None:
    """Point the local server's webhook at kassa for `events` only."""
    response = httpx.post(
        f"{local_stripe.api_base}/_config/webhooks/kassa",
        data={"url": url, "secret": secret, "events[]": events},
    )
    response.raise_for_status()


async def _event_about_intent_of(kassa: Kassa, session_id: str) -> StripeEvent:
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(session_id)
    return await _event_about(str(session.payment_intent), "payment_intent.succeeded")
