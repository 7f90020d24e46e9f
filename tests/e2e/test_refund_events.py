"""Refund events are money coming out of kassa's books: each is checked against kassa's
record of the payment (currency, amount, what is left) before anything is booked."""

from __future__ import annotations

import pytest

from kassa.models import Payment, Refund
from tests.support import JSON, Kassa, assert_ledger_consistent, refund_object, stripe_event

REFUSED = "refused: RefundMismatch"


async def _paid_top_up(kassa: Kassa, amount: str = "10.00") -> Payment:
    member = await kassa.member()
    answer = await kassa.top_up(member, amount, paymentMethodId="pm_card_visa")
    paid = await kassa.wait_for_status(member, answer["payment"]["id"], "SUCCEEDED")
    assert paid["status"] == "SUCCEEDED"
    payment = await Payment.get(id=answer["payment"]["id"].removeprefix("pay_"))
    return payment


def _refund_of(payment: Payment, amount: int, currency: str = "usd") -> JSON:
    return refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=amount,
        currency=currency,
        status="succeeded",
    )


def _charge_refunded(payment: Payment, refund: JSON) -> str:
    charge = {
        "id": payment.stripe_charge_id,
        "object": "charge",
        "payment_intent": payment.stripe_payment_intent_id,
        "amount_refunded": refund["amount"],
        "refunds": {"object": "list", "data": [refund], "has_more": False},
    }
    return stripe_event("charge.refunded", charge)


async def _assert_nothing_booked(payment: Payment) -> None:
    await payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert await Refund.filter(payment=payment).count() == 0
    await assert_ledger_consistent()


@pytest.mark.parametrize(
    ("event_type", "amount", "currency"),
    [
        ("charge.refunded", 500_000, "usd"),  # 5,000.00 on a 10.00 top-up
        ("refund.created", 700, "jpy"),  # 700 JPY on a USD payment
        ("refund.created", 0, "usd"),
    ],
)
async def test_a_refund_event_that_does_not_fit_the_payment_books_nothing(
    kassa: Kassa, event_type: str, amount: int, currency: str
) -> None:
    # given
    payment = await _paid_top_up(kassa)
    refund = _refund_of(payment, amount, currency)
    event = (
        _charge_refunded(payment, refund)
        if event_type == "charge.refunded"
        else stripe_event(event_type, refund)
    )

    # when
    stored = await kassa.deliver_and_wait(event)

    # then: not applied, and the reason is on the event for `kassa events list`
    assert stored.status in ("FAILED", "DEAD")
    assert (stored.last_error or "").startswith(REFUSED), stored.last_error
    await _assert_nothing_booked(payment)


async def test_three_dashboard_refunds_of_six_on_a_ten_book_one(kassa: Kassa) -> None:
    # given
    payment = await _paid_top_up(kassa)

    # when
    stored = [
        await kassa.deliver_and_wait(stripe_event("refund.created", _refund_of(payment, 600)))
        for _ in range(3)
    ]

    # then
    assert stored[0].status == "PROCESSED"
    assert all((event.last_error or "").startswith(REFUSED) for event in stored[1:])
    await payment.refresh_from_db()
    assert payment.amount_refunded == 600
    assert await Refund.filter(payment=payment).count() == 1
    await assert_ledger_consistent()


async def test_a_known_refund_whose_amount_changes_is_refused(kassa: Kassa) -> None:
    # given: a dashboard refund of 3.00 booked
    payment = await _paid_top_up(kassa)
    refund = _refund_of(payment, 300)
    assert (await kassa.deliver_and_wait(stripe_event("refund.created", refund))).status == (
        "PROCESSED"
    )

    # when: an update names the same refund with another amount
    refund["amount"] = 900
    stored = await kassa.deliver_and_wait(stripe_event("refund.updated", refund))

    # then
    assert (stored.last_error or "").startswith(REFUSED)
    await payment.refresh_from_db()
    assert payment.amount_refunded == 300
    await assert_ledger_consistent()


async def test_refused_refund_events_are_counted_in_metrics(kassa: Kassa) -> None:
    payment = await _paid_top_up(kassa)
    await kassa.deliver_and_wait(stripe_event("refund.created", _refund_of(payment, 99_999)))

    body = (await kassa.http.get("/metrics")).text

    refused = [
        line
        for line in body.splitlines()
        if line.startswith('kassa_stripe_events_refused{type="refund.created"}')
    ]
    assert refused and float(refused[0].split()[-1]) >= 1
