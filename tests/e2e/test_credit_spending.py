"""Spending credits, expiry on the clock, clawback on refund, and credit Checkout.

Purchases are paid through the local Stripe server (the Elements path) unless a test needs
a Checkout Session, which that server does not have: those use Stripe's fixture objects.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kassa.models import CreditLot, LedgerTransfer, Organization, Payment, Refund
from kassa.services import clock
from kassa.services.identity import OrgRole
from tests.e2e.hosted_checkout import HostedPage, start_checkout
from tests.e2e.test_checkout import _processed
from tests.e2e.test_credits import _buy
from tests.e2e.test_refunds import _refund
from tests.support import (
    JSON,
    VISA,
    Kassa,
    Member,
    assert_ledger_consistent,
    refund_object,
    stripe_event,
)

CONSUME = """
mutation Consume($input: ConsumeCreditsInput!) {
  consumeCredits(input: $input) {
    __typename
    ... on CreditsConsumed { balance transaction { id kind credits balanceAfter reason } }
    ... on UserError { code message field }
  }
}
"""
ACCOUNT = """
query Account($org: ID!) {
  organization(id: $org) {
    credits {
      balance
      lots { credits remaining payment { id } }
      transactions(first: 50) { edges { node { kind credits balanceAfter reason } } }
    }
  }
}
"""
START = """
mutation Start($input: StartCheckoutInput!) {
  startCheckout(input: $input) {
    __typename
    ... on UserError { code message field }
  }
}
"""


@pytest.fixture
def travel() -> Iterator[clock.Clock]:
    """The process clock, set back to the real time after the test."""
    yield clock.CLOCK
    clock.CLOCK.reset()


async def _paid_package(kassa: Kassa, member: Member, code: str) -> str:
    """Buy a package and pay it as a browser would; the payment's id once the lot is filled."""
    bought = await _buy(kassa, member, code, idempotencyKey=uuid.uuid4().hex)
    await kassa.confirm_with_card(bought["payment"]["stripePaymentIntentId"], VISA)
    payment = await kassa.wait_for_status(member, bought["payment"]["id"], "SUCCEEDED")
    assert payment["status"] == "SUCCEEDED"
    payment_id: str = payment["id"]
    return payment_id


async def _consume(kassa: Kassa, member: Member, credits: int, key: str, **extra: Any) -> JSON:
    variables = {
        "input": {
            "organizationId": member.organization_id,
            "credits": credits,
            "reason": extra.pop("reason", "image render"),
            "idempotencyKey": key,
            **extra,
        }
    }
    body = await kassa.gql(CONSUME, variables, member.token)
    assert "errors" not in body, body
    result: JSON = body["data"]["consumeCredits"]
    return result


async def _account(kassa: Kassa, member: Member) -> JSON:
    body = await kassa.gql(ACCOUNT, {"org": member.organization_id}, member.token)
    account: JSON = body["data"]["organization"]["credits"]
    return account


async def _debt(member: Member) -> int:
    organization = await Organization.get(external_id=member.external_id)
    return int(organization.credit_debt)


async def test_consume_takes_the_soonest_expiring_lot_first(kassa: Kassa) -> None:
    # given: two lots, the trial one expiring first
    member = await kassa.member()
    await _paid_package(kassa, member, "trial")
    await _paid_package(kassa, member, "standard")

    # when
    consumed = await _consume(kassa, member, 600, "render-1", reason="600 renders")

    # then
    assert consumed["balance"] == 1000
    assert consumed["transaction"] | {"id": None} == {
        "id": None,
        "kind": "CONSUME",
        "credits": -600,
        "balanceAfter": 1000,
        "reason": "600 renders",
    }
    account = await _account(kassa, member)
    assert [(lot["credits"], lot["remaining"]) for lot in account["lots"]] == [
        (500, 0),
        (1100, 1000),
    ]
    kinds = [edge["node"]["kind"] for edge in account["transactions"]["edges"]]
    assert kinds == ["CONSUME", "PURCHASE", "PURCHASE"]
    await assert_ledger_consistent()


async def test_not_enough_credits_spends_nothing(kassa: Kassa) -> None:
    member = await kassa.member()
    await _paid_package(kassa, member, "trial")

    refused = await _consume(kassa, member, 501, "too-much")

    assert (refused["code"], refused["field"]) == ("INSUFFICIENT_CREDITS", "credits")
    assert "500 credits can be spent" in refused["message"]
    account = await _account(kassa, member)
    assert account["balance"] == 500
    assert [edge["node"]["kind"] for edge in account["transactions"]["edges"]] == ["PURCHASE"]


async def test_the_same_key_returns_the_first_result_and_a_different_request_fails(
    kassa: Kassa,
) -> None:
    member = await kassa.member()
    await _paid_package(kassa, member, "trial")

    first = await _consume(kassa, member, 100, "job-7")
    again = await _consume(kassa, member, 100, "job-7")
    other = await _consume(kassa, member, 101, "job-7")
    other_reason = await _consume(kassa, member, 100, "job-7", reason="something else")

    assert again["transaction"] == first["transaction"]
    assert (other["code"], other["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert other_reason["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert (await _account(kassa, member))["balance"] == 400


async def test_bad_consumptions_are_refused_clearly(kassa: Kassa) -> None:
    member = await kassa.member()
    outsider = await kassa.member()
    await _paid_package(kassa, member, "trial")

    zero = await _consume(kassa, member, 0, "k0")
    negative = await _consume(kassa, member, -5, "k1")
    empty_reason = await _consume(kassa, member, 1, "k2", reason="")
    bad_key = await _consume(kassa, member, 1, "")
    foreign = await kassa.gql(
        CONSUME,
        {
            "input": {
                "organizationId": member.organization_id,
                "credits": 1,
                "reason": "theft",
                "idempotencyKey": "k3",
            }
        },
        outsider.token,
    )

    assert (zero["code"], zero["field"]) == ("INVALID_INPUT", "credits")
    assert (negative["code"], negative["field"]) == ("INVALID_INPUT", "credits")
    assert (empty_reason["code"], empty_reason["field"]) == ("INVALID_INPUT", "reason")
    assert (bad_key["code"], bad_key["field"]) == ("INVALID_INPUT", "idempotencyKey")
    assert foreign["data"]["consumeCredits"]["code"] == "NOT_FOUND"
    assert (await _account(kassa, member))["balance"] == 500


async def test_twenty_concurrent_consumers_never_overspend(kassa: Kassa) -> None:
    # given: 500 credits; twenty consumers of 40 each want 800
    member = await kassa.member(OrgRole.MEMBER)
    owner_token = kassa.token(member.external_id, OrgRole.OWNER)
    await _paid_package(
        kassa, Member(owner_token, member.organization_id, member.external_id), "trial"
    )

    # when
    results = await asyncio.gather(*(_consume(kassa, member, 40, f"burst-{n}") for n in range(20)))

    # then: exactly the affordable twelve went through
    kinds = sorted(result["__typename"] for result in results)
    assert kinds.count("CreditsConsumed") == 12
    assert {r["code"] for r in results if r["__typename"] == "UserError"} == {
        "INSUFFICIENT_CREDITS"
    }
    account = await _account(kassa, member)
    assert account["balance"] == 20
    assert account["lots"][0]["remaining"] == 20
    assert await CreditLot.filter(remaining__lt=0).count() == 0
    await assert_ledger_consistent()


async def _wait_for_expiry(lot_payment_id: str) -> CreditLot:
    deadline = time.monotonic() + 10
    while True:
        lot = await CreditLot.get(payment_id=lot_payment_id.removeprefix("pay_"))
        if lot.expired or time.monotonic() > deadline:
            return lot
        await asyncio.sleep(0.1)


async def test_expired_credits_are_never_spent_and_the_worker_expires_them(
    kassa: Kassa, travel: clock.Clock
) -> None:
    # given
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 150, "before-expiry")

    # when: six months and a day pass
    travel.travel(timedelta(days=183))

    # then: nothing left to spend, even before the worker's expiry has run
    refused = await _consume(kassa, member, 1, "after-expiry")
    assert refused["code"] == "INSUFFICIENT_CREDITS"
    assert (await _account(kassa, member))["balance"] == 0
    lot = await _wait_for_expiry(payment_id)
    assert (lot.remaining, lot.consumed, lot.expired) == (0, 150, 350)
    history = (await _account(kassa, member))["transactions"]["edges"]
    assert history[0]["node"] == {
        "kind": "EXPIRE",
        "credits": -350,
        "balanceAfter": 0,
        "reason": None,
    }
    await assert_ledger_consistent()


async def test_partial_refunds_claw_back_rounded_up_and_cumulatively(kassa: Kassa) -> None:
    # given: 1,100 credits for 100.00 CNY
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "standard")

    # when: refunded in three parts
    remaining = []
    for amount in ("33.33", "33.33", "33.34"):
        refunded = await _refund(kassa, member.token, payment_id, amount=amount)
        assert refunded["__typename"] == "RefundCreated", refunded
        remaining.append((await _account(kassa, member))["lots"][0]["remaining"])

    # then: ceil(1100 * 33.33 / 100) = 367, then 734 in all, then everything
    assert remaining == [733, 366, 0]
    clawbacks = await LedgerTransfer.filter(
        payment_id=payment_id.removeprefix("pay_"), kind="CLAWBACK"
    )
    assert sorted(transfer.amount for transfer in clawbacks) == [366, 367, 367]
    await assert_ledger_consistent()


async def test_refund_of_spent_credits_needs_allow_negative_balance(kassa: Kassa) -> None:
    # given: 400 of 500 credits spent
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 400, "spent")

    # when: a full refund, first plainly, then allowing the negative balance
    refused = await _refund(kassa, member.token, payment_id)
    unchanged = await _account(kassa, member)
    allowed = await _refund(kassa, member.token, payment_id, allowNegativeBalance=True)

    # then
    assert (refused["code"], refused["field"]) == ("CREDITS_ALREADY_CONSUMED", "amount")
    assert unchanged["balance"] == 100
    assert allowed["__typename"] == "RefundCreated"
    assert allowed["payment"]["amountRefunded"]["amount"] == "50.00"
    account = await _account(kassa, member)
    assert (account["balance"], await _debt(member)) == (-400, 400)
    assert account["transactions"]["edges"][0]["node"]["kind"] == "CLAWBACK"
    assert account["transactions"]["edges"][0]["node"]["credits"] == -500

    # and: the next purchase pays the debt first
    await _paid_package(kassa, member, "standard")
    account = await _account(kassa, member)
    assert (account["balance"], await _debt(member)) == (700, 0)
    assert account["lots"][1]["remaining"] == 700
    await assert_ledger_consistent()


async def test_a_member_cannot_refund_and_a_refused_refund_reaches_no_one(kassa: Kassa) -> None:
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 1, "one")
    plain_member = kassa.token(member.external_id, OrgRole.MEMBER, sub="user-2")

    forbidden = await _refund(kassa, plain_member, payment_id, allowNegativeBalance=True)
    refused = await _refund(kassa, member.token, payment_id)

    assert forbidden["code"] == "FORBIDDEN"
    assert refused["code"] == "CREDITS_ALREADY_CONSUMED"
    assert await Refund.filter(payment_id=payment_id.removeprefix("pay_")).count() == 0


async def test_refund_in_stripes_dashboard_takes_what_remains_and_books_debt(kassa: Kassa) -> None:
    # given: 300 of 500 spent
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 300, "spent")
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    refund = refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=payment.amount,
        currency="cny",
        status="succeeded",
    )

    # when: Stripe tells kassa, twice
    event = stripe_event("refund.created", refund)
    for _ in range(2):
        assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    # then
    account = await _account(kassa, member)
    assert (account["balance"], await _debt(member)) == (-300, 300)
    assert account["lots"][0]["remaining"] == 0
    await assert_ledger_consistent()


async def test_expired_credits_count_towards_the_clawback(
    kassa: Kassa, travel: clock.Clock
) -> None:
    # given: 100 of 500 spent, the rest expired
    member = await kassa.member()
    payment_id = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 100, "used")
    travel.travel(timedelta(days=183))
    await _wait_for_expiry(payment_id)

    # when
    refused = await _refund(kassa, member.token, payment_id)
    allowed = await _refund(kassa, member.token, payment_id, allowNegativeBalance=True)

    # then: only the 100 used credits are owed, not the 400 that expired
    assert refused["code"] == "CREDITS_ALREADY_CONSUMED"
    assert "takes back 100 credits" in refused["message"]
    assert allowed["__typename"] == "RefundCreated"
    assert await _debt(member) == 100
    await assert_ledger_consistent()


async def test_credit_checkout_fills_one_lot_and_shows_on_the_success_page(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    started = await start_checkout(
        kassa, member, organizationId=member.organization_id, creditPackage="value"
    )
    page = HostedPage(started["url"])
    assert 'data-testid="checkout-amount">500.00 CNY<' in await page.html()

    # when: the customer pays, and Stripe delivers the completion once more
    assert (await page.pay()).json()["status"] == "complete"
    completed = await _processed(started["sessionId"], "checkout.session.completed")
    assert (await kassa.deliver_and_wait(completed.payload)).status == "PROCESSED"

    # then
    account = await _account(kassa, member)
    assert account["balance"] == 6000
    assert [(lot["credits"], lot["remaining"]) for lot in account["lots"]] == [(6000, 6000)]
    status = await kassa.gql(
        "query S($id: String!) { checkoutStatus(sessionId: $id) { status paymentStatus } }",
        {"id": started["sessionId"]},
        member.token,
    )
    assert status["data"]["checkoutStatus"] == {"status": "complete", "paymentStatus": "paid"}
    other = await kassa.member()
    hidden = await kassa.gql(
        "query S($id: String!) { checkoutStatus(sessionId: $id) { status } }",
        {"id": started["sessionId"]},
        other.token,
    )
    assert hidden["data"]["checkoutStatus"] is None
    await assert_ledger_consistent()


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({}, "INVALID_INPUT", "creditPackage"),
        (
            {"orderId": "ord_" + "0" * 32, "creditPackage": "trial"},
            "INVALID_INPUT",
            "creditPackage",
        ),
        ({"creditPackage": "nonexistent"}, "NOT_FOUND", "creditPackage"),
    ],
)
async def test_start_checkout_for_credits_refuses_unclear_requests(
    kassa: Kassa, extra: JSON, code: str, field: str
) -> None:
    member = await kassa.member()
    variables = {
        "input": {
            "organizationId": member.organization_id,
            "successUrl": "https://shop.example/ok",
            "cancelUrl": "https://shop.example/cancel",
            **extra,
        }
    }
    body = await kassa.gql(START, variables, member.token)

    result = body["data"]["startCheckout"]
    assert (result["code"], result["field"]) == (code, field)
    assert await Payment.filter(organization__external_id=member.external_id).count() == 0


async def test_a_reversed_refund_gives_back_to_the_lots_it_took_from(kassa: Kassa) -> None:
    # given: the first purchase spent, a second one bought, the first refunded in Stripe's
    # dashboard: its clawback takes the second lot's credits
    member = await kassa.member()
    first = await _paid_package(kassa, member, "trial")
    await _consume(kassa, member, 500, "all-of-it")
    await _paid_package(kassa, member, "standard")
    payment = await Payment.get(id=first.removeprefix("pay_"))
    refund = refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=payment.amount,
        currency="cny",
        status="succeeded",
    )
    assert (await kassa.deliver_and_wait(stripe_event("refund.created", refund))).status == (
        "PROCESSED"
    )
    taken = await _account(kassa, member)
    assert [lot["remaining"] for lot in taken["lots"]] == [0, 600]

    # when: Stripe reports the refund failed after all
    failed = {**refund, "status": "failed"}
    event = stripe_event("refund.updated", failed, int(time.time()) + 5)
    assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"

    # then: the 500 credits are back where they were taken from, not in the spent lot
    account = await _account(kassa, member)
    assert [lot["remaining"] for lot in account["lots"]] == [0, 1100]
    assert account["balance"] == 1100
    await assert_ledger_consistent()


async def test_a_reversed_refund_returns_repaid_debt_to_each_lot_that_paid_it(
    kassa: Kassa,
) -> None:
    # given: 1,100 credits spent, their purchase refunded in Stripe's dashboard (debt 1,100),
    # then two purchases of 500 that paid 1,000 of that debt
    member = await kassa.member()
    first = await _paid_package(kassa, member, "standard")
    await _consume(kassa, member, 1100, "everything")
    payment = await Payment.get(id=first.removeprefix("pay_"))
    refund = refund_object(
        intent_id=payment.stripe_payment_intent_id or "",
        charge_id=payment.stripe_charge_id,
        amount=payment.amount,
        currency="cny",
        status="succeeded",
    )
    assert (await kassa.deliver_and_wait(stripe_event("refund.created", refund))).status == (
        "PROCESSED"
    )
    for _ in range(2):
        await _paid_package(kassa, member, "trial")
    assert await _debt(member) == 100

    # when: Stripe reports the refund failed after all
    failed = stripe_event("refund.updated", {**refund, "status": "failed"}, int(time.time()) + 5)
    assert (await kassa.deliver_and_wait(failed)).status == "PROCESSED"

    # then: the debt is gone and each later purchase has its own 500 back
    lots = await CreditLot.filter(organization__external_id=member.external_id).order_by(
        "created_at"
    )
    assert [(lot.remaining, lot.debt_paid) for lot in lots] == [(0, 0), (500, 0), (500, 0)]
    assert (await _debt(member), (await _account(kassa, member))["balance"]) == (0, 1000)
    await assert_ledger_consistent()
