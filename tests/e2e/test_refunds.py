"""Refunds: partial and full, by the right people, never beyond what was captured."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from tortoise.transactions import in_transaction

from kassa.models import AccountKind, LedgerTransfer, Payment, Refund, TransferKind
from kassa.services import ledger
from kassa.services.identity import OrgRole
from tests.e2e.test_orders import _create, _order, _pay
from tests.support import (
    JSON,
    Kassa,
    Member,
    assert_ledger_consistent,
    payment_intent_event,
    refund_object,
    stripe_event,
    wait_for_event,
)

REFUND = """
mutation Refund($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    __typename
    ... on RefundCreated {
      refund { id status amount { amount currency } reason }
      payment { status amountRefunded { amount } refunds { status } }
    }
    ... on UserError { code message field }
  }
}
"""


async def _refund(kassa: Kassa, token: str, payment_id: str, **fields: Any) -> JSON:
    body = await kassa.gql(REFUND, {"input": {"paymentId": payment_id, **fields}}, token)
    assert "errors" not in body, body
    result: JSON = body["data"]["refundPayment"]
    return result


async def _paid_order(kassa: Kassa, member: Member, amount: str = "50.00") -> tuple[str, str]:
    created = await _create(kassa, member, amount=amount, currency="usd")
    paid = await _pay(kassa, member, created["order"]["id"], paymentMethodId="pm_card_visa")
    assert paid["payment"]["status"] == "SUCCEEDED"
    return created["order"]["id"], paid["payment"]["id"]


async def _local_refund_count(kassa: Kassa, intent_id: str) -> int:
    refunds = await kassa.stripe.v1.refunds.list_async({"payment_intent": intent_id})
    return len(refunds.data)


async def test_partial_then_full_refund_of_an_order(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, payment_id = await _paid_order(kassa, member)

    # when: 40 % back, then too much, then the rest
    partial = await _refund(kassa, member.token, payment_id, amount="20.00", reason="late")
    too_much = await _refund(kassa, member.token, payment_id, amount="30.01")
    rest = await _refund(kassa, member.token, payment_id)

    # then
    assert partial["refund"]["status"] == "SUCCEEDED"
    assert partial["refund"]["amount"] == {"amount": "20.00", "currency": "usd"}
    assert partial["payment"]["amountRefunded"] == {"amount": "20.00"}
    assert (too_much["code"], too_much["field"]) == ("REFUND_EXCEEDS_CAPTURED", "amount")
    assert "30.00" in too_much["message"]
    assert rest["refund"]["amount"]["amount"] == "30.00"
    assert rest["payment"]["amountRefunded"] == {"amount": "50.00"}
    assert (await _order(kassa, member, order_id))["status"] == "REFUNDED"
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    assert await Refund.filter(payment=payment).count() == 2
    assert await _local_refund_count(kassa, payment.stripe_payment_intent_id or "") == 2
    await assert_ledger_consistent()


TWO_REFUNDS = """
mutation($first: RefundPaymentInput!, $second: RefundPaymentInput!) {
  first: refundPayment(input: $first) { ...Refunded }
  second: refundPayment(input: $second) { ...Refunded }
}
fragment Refunded on RefundResult {
  ... on RefundCreated { payment { amountRefunded { amount } refunds { amount { amount } } } }
}
"""


async def test_a_second_refund_in_one_request_shows_both_refunds(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    _, payment_id = await _paid_order(kassa, member)

    # when: two refunds in one operation, each answered with the payment's refunds
    body = await kassa.gql(
        TWO_REFUNDS,
        {
            "first": {"paymentId": payment_id, "amount": "10.00"},
            "second": {"paymentId": payment_id, "amount": "5.00"},
        },
        member.token,
    )

    # then: the second answer is the payment after both, not the refunds the first read
    assert "errors" not in body, body
    assert body["data"]["second"]["payment"] == {
        "amountRefunded": {"amount": "15.00"},
        "refunds": [{"amount": {"amount": "10.00"}}, {"amount": {"amount": "5.00"}}],
    }


async def test_partial_refund_marks_the_order_partially_refunded(kassa: Kassa) -> None:
    member = await kassa.member()
    order_id, payment_id = await _paid_order(kassa, member, "10.00")

    await _refund(kassa, member.token, payment_id, amount="4.00")

    assert (await _order(kassa, member, order_id))["status"] == "PARTIALLY_REFUNDED"


async def test_a_member_may_not_refund(kassa: Kassa) -> None:
    owner = await kassa.member(OrgRole.OWNER)
    _, payment_id = await _paid_order(kassa, owner)
    member_token = kassa.token(owner.external_id, OrgRole.MEMBER, sub="intern")

    result = await _refund(kassa, member_token, payment_id)

    assert result["code"] == "FORBIDDEN"
    assert await Refund.filter(payment_id=payment_id.removeprefix("pay_")).count() == 0


async def test_two_refunds_at_once_never_exceed_the_payment(kassa: Kassa) -> None:
    member = await kassa.member()
    _, payment_id = await _paid_order(kassa, member, "10.00")

    results = await asyncio.gather(
        *(_refund(kassa, member.token, payment_id, amount="6.00") for _ in range(2))
    )

    assert sorted(result["__typename"] for result in results) == ["RefundCreated", "UserError"]
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    assert payment.amount_refunded == 600


async def test_refund_made_in_stripes_dashboard_arrives_by_webhook(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    order_id, payment_id = await _paid_order(kassa, member, "8.00")
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    refund = refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=300,
        status="succeeded",
    )
    created = stripe_event("refund.created", refund)
    charge = {
        "id": payment.stripe_charge_id,
        "object": "charge",
        "payment_intent": payment.stripe_payment_intent_id,
        "amount_refunded": 300,
        "refunds": {"object": "list", "data": [refund], "has_more": False},
    }
    charge_refunded = stripe_event("charge.refunded", charge)

    # when: both of Stripe's events for it, the second one twice
    for event in (created, charge_refunded, charge_refunded):
        assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    # then: booked once
    await payment.refresh_from_db()
    assert payment.amount_refunded == 300
    stored = await Refund.get(stripe_refund_id=refund["id"])
    assert (stored.amount, stored.status) == (300, "SUCCEEDED")
    assert (await _order(kassa, member, order_id))["status"] == "PARTIALLY_REFUNDED"
    await assert_ledger_consistent()


async def _spend(member: Member, minor: int) -> None:
    """What a host app's debit would do: move money out of the wallet."""
    org = uuid.UUID(member.organization_id.removeprefix("org_"))
    async with in_transaction() as conn:
        await ledger.post_transfer(
            conn,
            ledger.Transfer(
                debit=ledger.wallet_account(org, "usd"),
                credit=ledger.AccountRef("wallet_spend:usd", AccountKind.WALLET_SPEND, "usd"),
                amount=minor,
                kind=TransferKind.DEBIT,
                idempotency_key=f"test:spend:{uuid.uuid4()}",
            ),
        )


async def test_top_up_refund_needs_the_money_still_in_the_wallet(kassa: Kassa) -> None:
    # given: 10.00 topped up, 8.00 already spent
    member = await kassa.member()
    topped = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")
    await _spend(member, 800)
    admin = kassa.token(None, platform_admin=True, sub="operator")

    # when
    refused = await _refund(kassa, member.token, topped["payment"]["id"])
    member_override = await _refund(
        kassa, member.token, topped["payment"]["id"], allowNegativeBalance=True
    )
    allowed = await _refund(kassa, admin, topped["payment"]["id"], allowNegativeBalance=True)

    # then
    assert refused["code"] == "INSUFFICIENT_BALANCE"
    assert member_override["code"] == "FORBIDDEN"
    assert allowed["refund"]["status"] == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "-8.00"
    await assert_ledger_consistent()


async def test_refund_of_an_unpaid_payment_is_invalid_state(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "3.00")

    result = await _refund(kassa, member.token, created["payment"]["id"])

    assert result["code"] == "INVALID_STATE"


async def test_refund_events_out_of_order_within_a_second_book_once(kassa: Kassa) -> None:
    # given: Stripe's refund events for one refund, the first-made arriving last
    member = await kassa.member()
    _, payment_id = await _paid_order(kassa, member, "8.00")
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    pending = refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=300,
        status="pending",
    )
    succeeded = {**pending, "status": "succeeded"}
    second = int(time.time())

    # when
    for kind, refund, created in (
        ("refund.updated", succeeded, second),
        ("refund.created", pending, second),
        ("refund.updated", succeeded, second + 1),
    ):
        await kassa.deliver_and_wait(stripe_event(kind, refund, created=created))

    # then
    await payment.refresh_from_db()
    assert payment.amount_refunded == 300
    assert (await Refund.get(stripe_refund_id=pending["id"])).status == "SUCCEEDED"
    transfers = await LedgerTransfer.filter(payment=payment, kind="REFUND").count()
    assert transfers == 1
    await assert_ledger_consistent()


async def test_refund_event_before_its_payment_succeeds_waits_for_it(kassa: Kassa) -> None:
    # given: a refund's event overtakes the success of the payment it refunds
    member = await kassa.member()
    created = await kassa.top_up(member, "10.00")
    intent_id = created["payment"]["stripePaymentIntentId"]
    refund = refund_object(intent_id=intent_id, charge_id=None, amount=300, status="succeeded")
    refund_event = stripe_event("refund.created", refund)
    early = await kassa.deliver_and_wait(refund_event)
    assert early.status == "FAILED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "0.00"

    # when: the payment's success arrives, and the refund event is tried again
    await kassa.deliver_and_wait(
        payment_intent_event("payment_intent.succeeded", intent_id, amount=1000, status="succeeded")
    )
    settled = await wait_for_event(early.id, attempts=99)

    # then
    assert settled.status == "PROCESSED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "7.00"
    await assert_ledger_consistent()
