"""Races around one payable attempt per order: a claim that runs out, a gap after a call,
paying again with a card, odd card ids. Each lost money or answered an internal error
before it was fixed (found by an independent review)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from kassa.models import Order, Payment, PaymentStatus
from kassa.services import stripe_calls
from kassa.services.stripe_gateway import PaymentIntentSnapshot, StripeFailure, StripeGateway
from tests.e2e.hosted_checkout import HostedPage, start_order_checkout
from tests.e2e.test_orders import _create, _pay, _wait_for_order
from tests.support import VISA, Kassa


async def test_a_session_handed_to_the_customer_is_never_on_a_cancelled_payment(
    kassa: Kassa, stripe_gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: startCheckout paused between releasing its Stripe-call claim and writing the
    # session id (any scheduling gap: a busy loop, a slow statement, another process)
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="42.00", currency="usd"))["order"]["id"]
    real = stripe_calls.one_at_a_time
    released, go_on = asyncio.Event(), asyncio.Event()
    calls = 0

    @asynccontextmanager
    async def gap_after_first(payment_id: uuid.UUID) -> AsyncIterator[None]:
        nonlocal calls
        calls += 1
        first = calls == 1
        async with real(payment_id):
            yield
        if first:
            released.set()
            await go_on.wait()

    monkeypatch.setattr(stripe_calls, "one_at_a_time", gap_after_first)
    starting = asyncio.create_task(start_order_checkout(member, order_id, stripe_gateway))
    await asyncio.wait_for(released.wait(), 10)

    # when: another tab calls payOrder in that gap
    await _pay(kassa, member, order_id)
    go_on.set()
    on_checkout = await starting
    await on_checkout.refresh_from_db()

    # then: the session the customer was handed can no longer take money, and kassa's
    # payment for it says so
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(
        on_checkout.stripe_checkout_session_id or ""
    )
    assert (on_checkout.status, session.status, session.url) == (
        PaymentStatus.CANCELED,
        "expired",
        None,
    )


@pytest.mark.parametrize("method", ["pm_card_\u0000visa", "card_\u0000"])
async def test_a_nul_in_a_payment_method_id_is_invalid_input(kassa: Kassa, method: str) -> None:
    member = await kassa.member()
    order_id = (await _create(kassa, member))["order"]["id"]
    body = await kassa.gql(
        """mutation($input: PayOrderInput!) { payOrder(input: $input) {
             __typename ... on UserError { code } } }""",
        {"input": {"orderId": order_id, "paymentMethodId": method}},
        member.token,
    )
    assert "errors" not in body, body
    assert body["data"]["payOrder"]["__typename"] == "UserError"


async def test_an_intent_created_after_its_claim_ran_out_is_never_handed_out(
    kassa: Kassa, stripe_gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: Stripe slower than the Stripe-call claim (120 s in production, 1 s here)
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="42.00", currency="usd"))["order"]["id"]
    monkeypatch.setattr(stripe_calls, "CLAIM", timedelta(seconds=1))
    real_create = StripeGateway.create_payment_intent
    made: list[str] = []

    async def slow_create(self: StripeGateway, **kwargs: Any) -> PaymentIntentSnapshot:
        await asyncio.sleep(2)
        intent = await real_create(self, **kwargs)
        made.append(intent.id)
        return intent

    monkeypatch.setattr(StripeGateway, "create_payment_intent", slow_create)
    paying = asyncio.create_task(_pay(kassa, member, order_id))
    await asyncio.sleep(1.3)

    # when: meanwhile the customer switches to Checkout, which retires the first attempt
    await start_order_checkout(member, order_id, stripe_gateway)
    paid = await paying

    # then: the late intent is withdrawn at Stripe, and nobody gets its client secret
    assert (paid["__typename"], paid["code"]) == ("UserError", "INVALID_STATE"), paid
    [intent_id] = made
    at_stripe = await kassa.stripe.v1.payment_intents.retrieve_async(intent_id)
    assert at_stripe.status == "canceled"


async def test_a_success_for_an_attempt_kassa_retired_on_its_own_is_booked(
    kassa: Kassa,
) -> None:
    # given: an attempt kassa retired before Stripe heard of it (CANCELED, no intent), yet
    # an intent for it got paid (a retirement and a slow Stripe crossing each other)
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="11.00", currency="usd"))["order"]["id"]
    first = await _pay(kassa, member, order_id)
    payment = await Payment.get(id=first["payment"]["id"][4:])
    await Payment.filter(id=payment.id).update(status=PaymentStatus.CANCELED)

    # when
    await kassa.confirm_with_card(first["payment"]["stripePaymentIntentId"], VISA)

    # then: the money Stripe took is booked and pays the order
    settled = await kassa.wait_for_status(member, first["payment"]["id"], "SUCCEEDED")
    assert settled["status"] == "SUCCEEDED"
    assert (await Order.get(id=order_id[4:])).status.value == "PAID"


async def test_paying_again_with_a_card_confirms_the_open_attempt(kassa: Kassa) -> None:
    # given: payOrder without a card (the customer opened the page), then with one
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="12.00", currency="usd"))["order"]["id"]
    first = await _pay(kassa, member, order_id)

    # when
    again = await _pay(kassa, member, order_id, paymentMethodId="pm_card_visa")

    # then: the same attempt, now charged
    from tests.e2e.test_orders import _wait_for_order

    assert again["payment"]["id"] == first["payment"]["id"]
    intent = await kassa.stripe.v1.payment_intents.retrieve_async(
        again["payment"]["stripePaymentIntentId"]
    )
    order = await _wait_for_order(kassa, member, order_id, "PAID")
    assert (intent.status, order["status"]) == ("succeeded", "PAID")


async def test_a_paid_order_stops_its_other_attempts_at_stripe(
    kassa: Kassa, stripe_gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an open PaymentIntent that switching to Checkout could not stop (Stripe failed)
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="15.00", currency="usd"))["order"]["id"]
    first = await _pay(kassa, member, order_id)
    intent_id = first["payment"]["stripePaymentIntentId"]

    async def stripe_down(intent_id: str) -> PaymentIntentSnapshot:
        raise StripeFailure("Stripe is down", http_status=503)

    monkeypatch.setattr(stripe_gateway, "cancel_payment_intent", stripe_down)
    on_checkout = await start_order_checkout(member, order_id, stripe_gateway)
    assert (await kassa.stripe.v1.payment_intents.retrieve_async(intent_id)).status != "canceled"

    # when: the order is paid on Checkout
    await _pay_on_hosted_page(kassa, on_checkout)
    assert (await _wait_for_order(kassa, member, order_id, "PAID"))["status"] == "PAID"

    # then: the worker stops the other attempt, so nobody pays the order twice
    for _ in range(200):
        intent = await kassa.stripe.v1.payment_intents.retrieve_async(intent_id)
        if intent.status == "canceled":
            break
        await asyncio.sleep(0.05)
    assert intent.status == "canceled"
    assert (await Order.get(id=order_id[4:])).status.value == "PAID"


async def _pay_on_hosted_page(kassa: Kassa, payment: Payment) -> None:
    session = await kassa.stripe.v1.checkout.sessions.retrieve_async(
        payment.stripe_checkout_session_id or ""
    )
    paid = await HostedPage(str(session.url)).pay()
    assert paid.json()["status"] == "complete", paid.text
