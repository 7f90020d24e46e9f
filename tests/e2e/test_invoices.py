"""Invoices: one per succeeded payment, numbered per organization without gaps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tortoise.transactions import in_transaction

from kassa.ids import IdKind, decode
from kassa.models import Invoice, Payment, PaymentStatus, StripeEvent
from kassa.services import clock, invoices
from tests.support import VISA, Kassa, Member


async def _numbers(member: Member) -> list[int | None]:
    organization_id = decode(IdKind.ORGANIZATION, member.organization_id)
    rows = await Invoice.filter(organization_id=organization_id).order_by("sequence")
    return [row.sequence for row in rows]


async def _invoice_of(payment_id: str) -> Invoice:
    return await Invoice.get(payment_id=decode(IdKind.PAYMENT, payment_id))


async def test_paid_top_ups_get_invoice_one_then_two(kassa: Kassa) -> None:
    # given
    member = await kassa.member()

    # when
    first = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")
    second = await kassa.top_up(member, "20.00", paymentMethodId="pm_card_visa")

    # then
    one, two = await _invoice_of(first["payment"]["id"]), await _invoice_of(second["payment"]["id"])
    assert (one.sequence, two.sequence) == (1, 2)
    prefix = member.organization_id.removeprefix("org_")[:8].upper()
    assert (one.number, two.number) == (f"{prefix}-000001", f"{prefix}-000002")
    assert (one.total, one.currency) == (1000, "usd")
    assert one.document["lines"] == [
        {"description": "Wallet top-up (USD)", "amount": 1000, "quantity": 1, "detail": None}
    ]


async def test_twenty_concurrent_payments_take_numbers_one_to_twenty(kassa: Kassa) -> None:
    # given
    member = await kassa.member()

    # when
    paid = await asyncio.gather(
        *(kassa.top_up(member, f"{n}.00", paymentMethodId="pm_card_visa") for n in range(1, 21))
    )

    # then
    assert {result["payment"]["status"] for result in paid} == {"SUCCEEDED"}
    assert await _numbers(member) == list(range(1, 21))


async def test_a_rolled_back_payment_takes_no_number(kassa: Kassa) -> None:
    # given: invoice 1, and a payment under way
    member = await kassa.member()
    await kassa.top_up(member, "5.00", paymentMethodId="pm_card_visa")
    started = await kassa.top_up(member, "7.00")
    payment_id = decode(IdKind.PAYMENT, started["payment"]["id"])

    # when: a transaction issues its invoice, then rolls back
    taken: list[int | None] = []
    with pytest.raises(RuntimeError, match="rolled back"):
        async with in_transaction() as conn:
            payment = await Payment.select_for_update().using_db(conn).get(id=payment_id)
            payment.status, payment.paid_at = PaymentStatus.SUCCEEDED, clock.now()
            taken.append((await invoices.issue(conn, payment)).sequence)
            raise RuntimeError("rolled back")
    # ... and the payment then succeeds for real, through Stripe's webhook
    await kassa.confirm_with_card(started["payment"]["stripePaymentIntentId"], VISA)
    await kassa.wait_for_status(member, started["payment"]["id"], "SUCCEEDED")

    # then: the rolled-back transaction had number 2, and gave it back
    assert taken == [2]
    assert await _numbers(member) == [1, 2]
    assert (await _invoice_of(started["payment"]["id"])).sequence == 2


async def test_repeated_success_events_issue_one_invoice(kassa: Kassa) -> None:
    # given: paid in the browser, so the success arrives as a webhook event
    member = await kassa.member()
    started = await kassa.top_up(member, "3.00")
    await kassa.confirm_with_card(started["payment"]["stripePaymentIntentId"], VISA)
    await kassa.wait_for_status(member, started["payment"]["id"], "SUCCEEDED")
    intent_id = started["payment"]["stripePaymentIntentId"]
    event = await StripeEvent.get(object_id=intent_id, type="payment_intent.succeeded")

    # when: Stripe delivers it twice more (a new id each time, as a resend would)
    for _ in range(2):
        payload = event.payload.replace(event.id, f"evt_{uuid.uuid4().hex}")
        await kassa.deliver_and_wait(payload)

    # then
    assert await _numbers(member) == [1]
