"""A refund Stripe never answered is sent again by the worker
(`refunds.resend_unsent`) while the same refund is still being sent by someone else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.models import Payment, Refund, RefundStatus
from kassa.services import payments, refunds
from kassa.services.errors import ErrorCode
from kassa.services.stripe_gateway import StripeFailure, StripeGateway
from tests.e2e.test_refunds import _local_refund_count, _paid_order, _refund
from tests.stripe_proxy import Fault, Mode, StripeProxy
from tests.support import Kassa


@pytest.fixture
def slow_stripe(local_stripe: LocalStripe) -> Iterator[StripeProxy]:
    proxy = StripeProxy(local_stripe.api_base).start()
    proxy.add(Fault("/v1/refunds", Mode.LATENCY, method="POST", seconds=1.0))
    yield proxy
    proxy.release()
    proxy.stop()


@pytest.fixture
def conflicting_stripe(local_stripe: LocalStripe) -> Iterator[StripeProxy]:
    """Real Stripe's answer to a request whose idempotency key is in use by a request it is
    still processing: 409 (idempotency_key_in_use)."""
    proxy = StripeProxy(local_stripe.api_base).start()
    proxy.add(Fault("/v1/refunds", Mode.ERROR, method="POST", status=409))
    yield proxy
    proxy.release()
    proxy.stop()


async def _unsent_refund(kassa: Kassa, key: str) -> tuple[Payment, Refund, str, str]:
    member = await kassa.member()
    _, payment_id = await _paid_order(kassa, member, "10.00")
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    # What a refundPayment whose Stripe call got a 502 leaves behind: reserved, unsent.
    refund = await refunds._reserve(
        "owner", payment, refunds.RefundRequest(payment.id, amount="10.00", idempotency_key=key)
    )
    return payment, refund, member.token, payment_id


async def test_worker_resend_and_the_clients_retry_with_the_same_key_refund_once(
    kassa: Kassa, slow_stripe: StripeProxy
) -> None:
    # given: an unsent refund; the client retries it with its key, as the error told it to
    payment, _, token, global_id = await _unsent_refund(kassa, "review11-race-1")
    worker_gateway = StripeGateway(SECRET_KEY, api_base=slow_stripe.api_base)
    try:
        # when: the worker resends it (Stripe slow) while the client's retry runs
        resending = asyncio.create_task(refunds.resend_unsent(worker_gateway, timedelta(0), 10.0))
        await asyncio.sleep(0.2)
        retried = await _refund(
            kassa, token, global_id, amount="10.00", idempotencyKey="review11-race-1"
        )
        await resending
    finally:
        await worker_gateway.aclose()

    # then: one refund at Stripe for kassa's one refund
    assert retried["__typename"] == "RefundCreated", retried
    assert payment.stripe_payment_intent_id is not None
    assert await _local_refund_count(kassa, payment.stripe_payment_intent_id) == 1


async def test_a_409_from_stripe_while_the_refund_is_in_flight_does_not_lose_it(
    kassa: Kassa, slow_stripe: StripeProxy, conflicting_stripe: StripeProxy
) -> None:
    # given: an unsent refund being sent (the client's retry, Stripe slow to answer)
    payment, refund, _, _ = await _unsent_refund(kassa, "review11-race-2")
    in_flight_gateway = StripeGateway(
        SECRET_KEY, api_base=slow_stripe.api_base, max_network_retries=0
    )
    worker_gateway = StripeGateway(
        SECRET_KEY, api_base=conflicting_stripe.api_base, max_network_retries=0
    )
    try:
        sending = asyncio.create_task(refunds._send_to_stripe(refund, payment, in_flight_gateway))
        await asyncio.sleep(0.2)
        # when: the worker resends it meanwhile; real Stripe answers 409 (key in use)
        await refunds.resend_unsent(worker_gateway, timedelta(0), 10.0)
        await sending
    finally:
        await in_flight_gateway.aclose()
        await worker_gateway.aclose()

    # then: Stripe refunded 10.00 once; kassa must book it, not call it FAILED
    assert payment.stripe_payment_intent_id is not None
    assert await _local_refund_count(kassa, payment.stripe_payment_intent_id) == 1
    after = await Refund.get(id=refund.id)
    booked = await Payment.get(id=payment.id)
    assert (after.status, booked.amount_refunded) == (RefundStatus.SUCCEEDED, 1000), (
        after.status,
        after.failure_reason,
        booked.amount_refunded,
    )


def test_a_409_idempotency_conflict_is_not_told_as_a_refusal() -> None:
    # Real Stripe answers 409 idempotency_key_in_use while an earlier request with the same
    # key is still being processed: e.g. a confirm the deadline cut off, repeated at once
    # with the same idempotencyKey as PAYMENT_OUTCOME_UNKNOWN tells the client to.
    conflict = StripeFailure(
        "There is currently another in-progress request using this Idempotent Key",
        code="idempotency_key_in_use",
        http_status=409,
    )
    assert not conflict.refused
    assert payments.provider_error(conflict).code is ErrorCode.PAYMENT_OUTCOME_UNKNOWN
