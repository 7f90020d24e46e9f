"""Whatever refund events Stripe (or anyone holding the signing secret) sends for one
payment, in any order, repeated, in any currency or amount: kassa never books more than
the payment captured, and what it books is exactly its succeeded refunds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from kassa.models import Payment, PaymentPurpose, Refund, RefundStatus
from kassa.services import payments, refunds
from kassa.services.organizations import provision
from kassa.services.stripe_gateway import PaymentIntentSnapshot, RefundSnapshot
from tests.support import Kassa, assert_ledger_consistent

T = TypeVar("T")
CAPTURED = 1000
EXPECTED_REFUSALS = (refunds.RefundMismatch, refunds.RefundBeforePayment)

refund_events = st.lists(
    st.tuples(
        st.integers(0, 3),  # which of four Stripe refunds the event is about
        st.sampled_from([0, 1, 300, 600, 999, 1000, 1001, 5000]),
        st.sampled_from(["usd", "usd", "usd", "jpy"]),
        st.sampled_from(["pending", "succeeded", "succeeded", "failed", "canceled"]),
        st.integers(0, 5),  # seconds after the first event (Stripe's `created`)
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="session")
async def idle_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_refund_events_never_book_more_than_captured(
    kassa: Kassa, idle_loop: asyncio.AbstractEventLoop
) -> None:
    def run(work: Coroutine[Any, Any, T]) -> T:
        return idle_loop.run_until_complete(work)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(refund_events)
    def books_at_most_captured(events: list[tuple[int, int, str, str, int]]) -> None:
        run(_apply_all(events))

    books_at_most_captured()


async def _apply_all(events: list[tuple[int, int, str, str, int]]) -> None:
    payment = await _succeeded_payment()
    start = datetime.now(UTC).replace(microsecond=0)
    names = [f"re_{uuid.uuid4().hex[:20]}" for _ in range(4)]
    for slot, amount, currency, status, later in events:
        snapshot = RefundSnapshot(
            id=names[slot],
            status=status,
            amount=amount,
            currency=currency,
            payment_intent_id=payment.stripe_payment_intent_id,
            charge_id=payment.stripe_charge_id,
            metadata={},
            failure_reason=None,
        )
        try:
            async with in_transaction() as conn:
                await refunds.apply_refund(conn, snapshot, start + timedelta(seconds=later))
        except EXPECTED_REFUSALS:
            pass
    await payment.refresh_from_db()
    succeeded = await Refund.filter(payment=payment, status=RefundStatus.SUCCEEDED)
    assert 0 <= payment.amount_refunded <= CAPTURED
    assert payment.amount_refunded == sum(refund.amount for refund in succeeded)
    assert all(refund.currency == "usd" for refund in await Refund.filter(payment=payment))
    await assert_ledger_consistent()


async def _succeeded_payment() -> Payment:
    organization = await provision(f"refunds-{uuid.uuid4().hex[:12]}")
    intent_id = f"pi_{uuid.uuid4().hex[:24]}"
    payment = await Payment.create(
        organization=organization,
        purpose=PaymentPurpose.WALLET_TOP_UP,
        amount=CAPTURED,
        currency="usd",
        stripe_payment_intent_id=intent_id,
        stripe_charge_id=f"ch_{uuid.uuid4().hex[:24]}",
    )
    succeeded = PaymentIntentSnapshot(
        id=intent_id,
        status="succeeded",
        amount=CAPTURED,
        amount_received=CAPTURED,
        currency="usd",
        client_secret=None,
        charge_id=payment.stripe_charge_id,
        payment_method_id=None,
        card=None,
        failure_code=None,
        failure_message=None,
        metadata={},
        created=None,
    )
    await payments.record_payment_intent(payment.id, succeeded)
    return payment
