"""A member tops up the organization's wallet by card, as a frontend and Stripe.js would."""

from __future__ import annotations

import asyncio
import json
import time

from kassa.models import LedgerTransfer, Organization, Payment
from tests.support import (
    DECLINED,
    VISA,
    WEBHOOK_GRACE_SECONDS,
    Kassa,
    assert_ledger_consistent,
    payment_intent_event,
    wait_for_event,
)


async def test_card_top_up_credits_the_wallet_once_with_its_ledger_row(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    created = await kassa.top_up(member, "25.00", "usd")
    assert created["__typename"] == "PaymentIntentCreated", created
    assert created["payment"]["status"] == "REQUIRES_PAYMENT_METHOD"
    assert created["clientSecret"].startswith(created["payment"]["stripePaymentIntentId"])

    # when
    await kassa.confirm_with_card(created["payment"]["stripePaymentIntentId"], VISA)
    payment = await kassa.wait_for_status(member, created["payment"]["id"], "SUCCEEDED")

    # then
    assert payment["status"] == "SUCCEEDED"
    assert payment["amount"] == {"amount": "25.00", "currency": "usd"}
    assert payment["stripeChargeId"].startswith("ch_")
    assert payment["paidAt"] is not None
    # card details come from Stripe just after the event is applied
    payment = await kassa.wait_for_card(member, created["payment"]["id"])
    assert payment["card"]["last4"] == "4242"
    wallet = await kassa.wallet(member)
    assert wallet["balance"] == {"amount": "25.00", "currency": "usd"}
    edges = wallet["transactions"]["edges"]
    assert [edge["node"] for edge in edges] == [
        {
            "kind": "TOP_UP",
            "amount": {"amount": "25.00"},
            "balanceAfter": {"amount": "25.00"},
            "payment": {"id": created["payment"]["id"]},
        }
    ]
    await assert_ledger_consistent()


TOP_UP_SHOWING_CARD = """
mutation TopUp($input: TopUpWalletInput!) {
  topUpWallet(input: $input) {
    ... on PaymentIntentCreated { payment { id status card { brand last4 } } }
    ... on UserError { code message }
  }
}
"""


async def test_a_payment_kassa_confirms_shows_its_card_in_the_same_answer(kassa: Kassa) -> None:
    member = await kassa.member()
    variables = {
        "input": {
            "organizationId": member.organization_id,
            "amount": "11.00",
            "currency": "usd",
            "paymentMethodId": "pm_card_visa",
        }
    }

    body = await kassa.gql(TOP_UP_SHOWING_CARD, variables, member.token)

    payment = body["data"]["topUpWallet"]["payment"]
    assert payment["status"] == "SUCCEEDED", body
    assert payment["card"] == {"brand": "visa", "last4": "4242"}


async def test_a_payment_the_webhook_turns_succeeded_shows_its_card_from_then_on(
    kassa: Kassa,
) -> None:
    # given: a top-up confirmed in the browser, as Stripe.js does
    member = await kassa.member()
    created = await kassa.top_up(member, "13.00")
    await kassa.confirm_with_card(created["payment"]["stripePaymentIntentId"], VISA)

    # when: watching the payment until Stripe's event turns it SUCCEEDED
    deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
    payment = await kassa.payment(member, created["payment"]["id"])
    while payment["status"] != "SUCCEEDED" and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        payment = await kassa.payment(member, created["payment"]["id"])

    # then: the first answer that says SUCCEEDED already names the card
    assert payment["status"] == "SUCCEEDED"
    assert payment["card"] is not None, payment
    assert payment["card"]["last4"] == "4242"


async def test_declined_card_fails_the_payment_and_leaves_the_wallet_alone(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    created = await kassa.top_up(member, "40.00", "usd")

    # when
    await kassa.confirm_with_card(created["payment"]["stripePaymentIntentId"], DECLINED)
    payment = await kassa.wait_for_status(member, created["payment"]["id"], "FAILED")

    # then
    assert payment["status"] == "FAILED"
    assert payment["failureCode"] == "card_declined"
    assert payment["failureMessage"] == "Your card was declined."
    assert payment["paidAt"] is None
    wallet = await kassa.wallet(member)
    assert wallet["balance"]["amount"] == "0.00"
    assert wallet["transactions"]["edges"] == []


async def test_saved_card_id_confirms_on_the_server(kassa: Kassa) -> None:
    member = await kassa.member()

    created = await kassa.top_up(member, "1000", "jpy", paymentMethodId="pm_card_visa")

    assert created["payment"]["status"] == "SUCCEEDED"
    wallet = await kassa.wallet(member, "jpy")
    assert wallet["balance"] == {"amount": "1000", "currency": "jpy"}


async def test_declined_saved_card_answers_card_declined(kassa: Kassa) -> None:
    member = await kassa.member()

    result = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_chargeCustomerFail")

    assert result["__typename"] == "UserError"
    assert result["code"] == "CARD_DECLINED"
    payment = await Payment.get(organization__external_id=member.external_id)
    assert payment.status == "FAILED"
    assert payment.failure_code == "card_declined"


async def test_same_event_delivered_five_times_at_once_credits_once(kassa: Kassa) -> None:
    # given: a top-up whose success event Stripe delivers five times concurrently
    member = await kassa.member()
    created = await kassa.top_up(member, "12.34", "usd")
    intent_id = created["payment"]["stripePaymentIntentId"]
    event = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=1234, status="succeeded"
    )

    # when
    responses = await asyncio.gather(*(kassa.deliver(event, kassa.sign(event)) for _ in range(5)))
    await wait_for_event(json.loads(event)["id"])

    # then
    assert [response.status_code for response in responses] == [200] * 5
    wallet = await kassa.wallet(member)
    assert wallet["balance"]["amount"] == "12.34"
    assert len(wallet["transactions"]["edges"]) == 1
    payment = await Payment.get(stripe_payment_intent_id=intent_id)
    assert await LedgerTransfer.filter(payment_id=payment.id).count() == 1
    await assert_ledger_consistent()


async def test_stale_failure_after_success_changes_nothing(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "5.00", "usd")
    intent_id = created["payment"]["stripePaymentIntentId"]
    succeeded = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=500, status="succeeded", created=2_000
    )
    stale_failure = payment_intent_event(
        "payment_intent.payment_failed",
        intent_id,
        amount=500,
        status="requires_payment_method",
        created=1_000,
        failure=("card_declined", "Your card was declined."),
    )

    for event in (succeeded, stale_failure):
        assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    payment = await kassa.payment(member, created["payment"]["id"])
    assert payment["status"] == "SUCCEEDED"
    assert payment["failureCode"] is None
    assert (await kassa.wallet(member))["balance"]["amount"] == "5.00"


async def test_failed_then_succeeded_converges_to_succeeded(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "7.00", "usd")
    intent_id = created["payment"]["stripePaymentIntentId"]
    failed = payment_intent_event(
        "payment_intent.payment_failed",
        intent_id,
        amount=700,
        status="requires_payment_method",
        failure=("card_declined", "Your card was declined."),
    )
    succeeded = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=700, status="succeeded"
    )

    for event in (failed, succeeded):
        assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    payment = await kassa.payment(member, created["payment"]["id"])
    assert payment["status"] == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "7.00"


async def test_event_amount_differing_from_kassas_record_is_not_applied(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "3.00", "usd")
    intent_id = created["payment"]["stripePaymentIntentId"]
    event = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=300_000, status="succeeded"
    )

    stored = await kassa.deliver_and_wait(event)

    assert stored.status == "FAILED"
    assert "PaymentMismatch" in (stored.last_error or "")
    assert (await kassa.wallet(member))["balance"]["amount"] == "0.00"


async def test_idempotency_key_returns_the_same_payment(kassa: Kassa) -> None:
    member = await kassa.member()

    answers = await asyncio.gather(
        *(kassa.top_up(member, "9.00", idempotencyKey="top-up-1") for _ in range(4))
    )
    reused = await kassa.top_up(member, "10.00", idempotencyKey="top-up-1")

    assert len({answer["payment"]["id"] for answer in answers}) == 1
    intent_ids = {answer["payment"]["stripePaymentIntentId"] for answer in answers}
    assert len(intent_ids) == 1
    # every answer can confirm the one intent the payment tracks
    assert {answer["clientSecret"].split("_secret_")[0] for answer in answers} == intent_ids
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    organization = await Organization.get(external_id=member.external_id)
    assert await Payment.filter(organization=organization).count() == 1


async def test_concurrent_retries_with_a_saved_card_all_report_the_one_payment(
    kassa: Kassa,
) -> None:
    member = await kassa.member()

    answers = await asyncio.gather(
        *(
            kassa.top_up(member, "6.00", paymentMethodId="pm_card_visa", idempotencyKey="k-1")
            for _ in range(3)
        )
    )

    assert len({answer["payment"]["id"] for answer in answers}) == 1
    payment = await Payment.get(organization__external_id=member.external_id)
    assert payment.status == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "6.00"


async def test_payment_stripe_refused_to_start_is_failed_not_pending(kassa: Kassa) -> None:
    member = await kassa.member()

    result = await kassa.top_up(member, "8.00", paymentMethodId="pm_does_not_exist")

    assert result["code"] == "PAYMENT_PROVIDER_ERROR"
    payment = await Payment.get(organization__external_id=member.external_id)
    assert payment.status == "FAILED"
    assert payment.stripe_payment_intent_id is None


async def test_unusable_idempotency_key_is_invalid_input(kassa: Kassa) -> None:
    member = await kassa.member()
    for key in ["k" * 256, "with space", "nul\x00", ""]:
        result = await kassa.top_up(member, "1.00", idempotencyKey=key)
        assert result["code"] == "INVALID_INPUT", key
        assert result["field"] == "idempotencyKey"
    assert await Payment.filter(organization__external_id=member.external_id).count() == 0


async def test_within_one_second_a_payment_never_moves_backwards(kassa: Kassa) -> None:
    # given: Stripe's event times have whole seconds; these two share theirs
    member = await kassa.member()
    created = await kassa.top_up(member, "4.00", "usd")
    intent_id = created["payment"]["stripePaymentIntentId"]
    second = int(time.time()) + 1
    failed = payment_intent_event(
        "payment_intent.payment_failed",
        intent_id,
        amount=400,
        status="requires_payment_method",
        created=second,
        failure=("card_declined", "Your card was declined."),
    )
    processing = payment_intent_event(
        "payment_intent.processing", intent_id, amount=400, status="processing", created=second
    )

    # when
    for event in (failed, processing):
        assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    # then
    payment = await kassa.payment(member, created["payment"]["id"])
    assert payment["status"] == "FAILED"
    assert payment["failureCode"] == "card_declined"
