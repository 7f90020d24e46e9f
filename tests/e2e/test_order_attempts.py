"""Paying orders under a burst: one payable attempt per order, and no request ever waits
on a database connection held by another one (the pool stays free for everything else)."""

from __future__ import annotations

import asyncio
import time
import uuid

from kassa.ids import IdKind, encode
from kassa.models import Order, Payment, PaymentPurpose, PaymentStatus, Refund, RefundStatus
from tests.e2e.hosted_checkout import start_checkout
from tests.e2e.test_orders import _create, _order, _pay, _wait_for_order
from tests.support import JSON, VISA, Kassa, Member, assert_ledger_consistent

# Far longer than any answer here takes; the burst froze for good before the fix.
BURST_DEADLINE_SECONDS = 60
PAID_ORDER_CARD = "pm_card_visa"


async def _intents_at_stripe_for(kassa: Kassa, payment_ids: set[str]) -> list[str]:
    # Every page: the session's server holds more intents than one page, oldest first.
    page = await kassa.stripe.v1.payment_intents.list_async({"limit": 100})
    return [
        intent.id
        async for intent in page.auto_paging_iter()
        if intent.to_dict().get("metadata", {}).get("kassa_payment_id") in payment_ids
    ]


async def _watch_readiness(kassa: Kassa, stop: asyncio.Event) -> list[int]:
    statuses = []
    while not stop.is_set():
        response = await kassa.http.get("/readyz", timeout=5)
        statuses.append(response.status_code)
        await asyncio.sleep(0.05)
    return statuses


async def _burst(kassa: Kassa, calls: list[tuple[Member, str]]) -> tuple[list[JSON], list[int]]:
    stop = asyncio.Event()
    watching = asyncio.create_task(_watch_readiness(kassa, stop))
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(*(_pay(kassa, member, order_id) for member, order_id in calls)),
            BURST_DEADLINE_SECONDS,
        )
    finally:
        stop.set()
    return list(answers), await watching


async def test_twenty_orders_paid_at_once_all_answer_and_readiness_stays_up(
    kassa: Kassa,
) -> None:
    # given
    members = [await kassa.member() for _ in range(20)]
    orders = [(m, (await _create(kassa, m))["order"]["id"]) for m in members]

    # when
    started = time.monotonic()
    answers, readiness = await _burst(kassa, orders)
    took = time.monotonic() - started

    # then
    assert [a["__typename"] for a in answers] == ["PaymentIntentCreated"] * 20, answers
    assert set(readiness) == {200}, readiness
    assert took < BURST_DEADLINE_SECONDS
    print(f"20 payOrder on 20 orders answered in {took:.2f} s; /readyz {len(readiness)}x 200")
    for _, order_id in orders:
        payments = await Payment.filter(order_id=order_id.removeprefix("ord_"))
        assert len(payments) == 1
        assert payments[0].stripe_payment_intent_id is not None


async def test_ten_payments_of_one_order_at_once_share_one_payment_intent(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id = (await _create(kassa, member))["order"]["id"]

    # when
    answers, readiness = await _burst(kassa, [(member, order_id)] * 10)

    # then
    assert {a["__typename"] for a in answers} == {"PaymentIntentCreated"}, answers
    assert len({a["payment"]["id"] for a in answers}) == 1
    assert len({a["clientSecret"] for a in answers}) == 1
    assert set(readiness) == {200}
    payment_ids = {str(p.id) for p in await Payment.filter(order_id=order_id[4:])}
    assert len(payment_ids) == 1
    assert len(await _intents_at_stripe_for(kassa, payment_ids)) == 1


async def test_ten_confirmed_payments_of_one_order_charge_the_card_once(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id = (await _create(kassa, member))["order"]["id"]

    # when
    answers = await asyncio.gather(
        *(_pay(kassa, member, order_id, paymentMethodId=PAID_ORDER_CARD) for _ in range(10))
    )

    # then: every caller sees the one payment; Stripe confirmed one intent once
    assert {a["__typename"] for a in answers} == {"PaymentIntentCreated"}, answers
    assert len({a["payment"]["id"] for a in answers}) == 1
    order = await _wait_for_order(kassa, member, order_id, "PAID")
    assert order["status"] == "PAID"
    assert [p["status"] for p in order["payments"]] == ["SUCCEEDED"]
    payment_ids = {str(p.id) for p in await Payment.filter(order_id=order_id[4:])}
    assert len(await _intents_at_stripe_for(kassa, payment_ids)) == 1
    await assert_ledger_consistent()


async def test_pay_order_never_continues_a_checkout_payment(kassa: Kassa) -> None:
    # given: an order whose Checkout Session is open
    member = await kassa.member()
    order_id = (await _create(kassa, member))["order"]["id"]
    started = await start_checkout(kassa, member, orderId=order_id)
    on_checkout = await Payment.get(stripe_checkout_session_id=started["sessionId"])

    # when
    paid = await _pay(kassa, member, order_id)

    # then: a new PaymentIntent attempt, the Checkout payment left without an intent
    assert paid["__typename"] == "PaymentIntentCreated", paid
    assert paid["payment"]["id"] != encode(IdKind.PAYMENT, on_checkout.id)
    await on_checkout.refresh_from_db()
    assert on_checkout.stripe_payment_intent_id is None


async def test_a_new_attempt_cancels_the_open_payment_intent_at_stripe(kassa: Kassa) -> None:
    # given: an order with an open PaymentIntent
    member = await kassa.member()
    order_id = (await _create(kassa, member))["order"]["id"]
    first = await _pay(kassa, member, order_id)
    intent_id = first["payment"]["stripePaymentIntentId"]

    # when: the customer switches to Checkout
    await kassa.gql(
        """mutation($input: StartCheckoutInput!) { startCheckout(input: $input) {
             __typename } }""",
        {
            "input": {
                "orderId": order_id,
                "successUrl": "https://shop.example/ok",
                "cancelUrl": "https://shop.example/no",
            }
        },
        member.token,
    )

    # then: the earlier intent can no longer take money
    intent = await kassa.stripe.v1.payment_intents.retrieve_async(intent_id)
    assert intent.status == "canceled"
    order = await _order(kassa, member, order_id)
    statuses = {p["id"]: p["status"] for p in order["payments"]}
    assert statuses[first["payment"]["id"]] == "CANCELED"


async def test_a_second_success_for_a_paid_order_is_a_duplicate_and_refunded(
    kassa: Kassa,
) -> None:
    # given: an order paid, and an older attempt that Stripe still let the customer pay
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="30.00", currency="usd"))["order"]["id"]
    paid = await _pay(kassa, member, order_id, paymentMethodId=PAID_ORDER_CARD)
    assert (await _wait_for_order(kassa, member, order_id, "PAID"))["status"] == "PAID"
    order = await Order.get(id=order_id[4:]).prefetch_related("organization")
    late = await Payment.create(
        organization=order.organization,
        purpose=PaymentPurpose.ORDER,
        order=order,
        amount=order.amount,
        currency=order.currency,
    )
    intent = await kassa.stripe.v1.payment_intents.create_async(
        {
            "amount": order.amount,
            "currency": order.currency,
            "metadata": {"kassa_payment_id": str(late.id)},
        }
    )
    await Payment.filter(id=late.id).update(stripe_payment_intent_id=intent.id)

    # when: the older attempt's payment succeeds too
    await kassa.confirm_with_card(intent.id, VISA)
    duplicate = await kassa.wait_for_status(member, encode(IdKind.PAYMENT, late.id), "SUCCEEDED")

    # then
    assert duplicate["status"] == "SUCCEEDED"
    await late.refresh_from_db()
    assert late.duplicate is True
    refund = await _wait_for_refund(late.id)
    assert (refund.amount, refund.status) == (order.amount, RefundStatus.SUCCEEDED)
    first = await Payment.get(id=paid["payment"]["id"][4:])
    assert (first.duplicate, first.status) == (False, PaymentStatus.SUCCEEDED)
    assert (await Order.get(id=order.id)).status.value == "PAID"
    await assert_ledger_consistent()


async def _wait_for_refund(payment_id: uuid.UUID) -> Refund:
    for _ in range(300):
        refund = await Refund.filter(payment_id=payment_id).first()
        if refund is not None and refund.status is RefundStatus.SUCCEEDED:
            return refund
        await asyncio.sleep(0.05)
    raise AssertionError(f"no succeeded refund for payment {payment_id}")
