"""Orders as a host app sells them: create, pay, follow Stripe's state."""

from __future__ import annotations

import asyncio
from typing import Any

from kassa.models import Order, Payment
from tests.support import DECLINED, JSON, VISA, Kassa, Member, assert_ledger_consistent

CREATE_ORDER = """
mutation Create($input: CreateOrderInput!) {
  createOrder(input: $input) {
    __typename
    ... on OrderCreated { order { id status reference amount { amount currency } notifyEmails } }
    ... on UserError { code message field }
  }
}
"""
PAY_ORDER = """
mutation Pay($input: PayOrderInput!) {
  payOrder(input: $input) {
    __typename
    ... on PaymentIntentCreated { clientSecret payment { id status stripePaymentIntentId } }
    ... on UserError { code message field }
  }
}
"""
ORDER = """
query Order($id: ID!) {
  order(id: $id) { id status payments { id status order { id } } }
}
"""
ORDERS = """
query Orders($org: ID!, $status: OrderStatus) {
  organization(id: $org) { orders(status: $status) { edges { node { id status } } } }
}
"""


async def _create(kassa: Kassa, member: Member, **fields: Any) -> JSON:
    values = {"organizationId": member.organization_id, "amount": "49.00", "currency": "eur"}
    body = await kassa.gql(CREATE_ORDER, {"input": {**values, **fields}}, member.token)
    result: JSON = body["data"]["createOrder"]
    return result


async def _pay(kassa: Kassa, member: Member, order_id: str, **fields: Any) -> JSON:
    body = await kassa.gql(PAY_ORDER, {"input": {"orderId": order_id, **fields}}, member.token)
    result: JSON = body["data"]["payOrder"]
    return result


async def _order(kassa: Kassa, member: Member, order_id: str) -> JSON:
    body = await kassa.gql(ORDER, {"id": order_id}, member.token)
    order: JSON = body["data"]["order"]
    return order


async def _wait_for_order(kassa: Kassa, member: Member, order_id: str, status: str) -> JSON:
    for _ in range(300):
        order = await _order(kassa, member, order_id)
        if order["status"] == status:
            return order
        await asyncio.sleep(0.05)
    return order


async def test_paid_order_is_paid_and_booked_as_a_sale(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    created = await _create(
        kassa,
        member,
        reference="booking-17",
        description="Coaching, 60 min",
        customerEmail="ada@example.com",
        notifyEmails=["coach@example.com"],
    )
    assert created["order"]["status"] == "PENDING"

    # when
    intent = await _pay(kassa, member, created["order"]["id"])
    await kassa.confirm_with_card(intent["payment"]["stripePaymentIntentId"], VISA)
    order = await _wait_for_order(kassa, member, created["order"]["id"], "PAID")

    # then
    assert order["status"] == "PAID"
    assert [(p["status"], p["order"]["id"]) for p in order["payments"]] == [
        ("SUCCEEDED", created["order"]["id"])
    ]
    assert (await kassa.wallet(member, "eur"))["balance"]["amount"] == "0.00"
    again = await _pay(kassa, member, created["order"]["id"])
    assert again["code"] == "ALREADY_PAID"
    await assert_ledger_consistent()


async def test_paying_twice_at_once_gives_one_payment_intent(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await _create(kassa, member)

    first, second = await asyncio.gather(
        _pay(kassa, member, created["order"]["id"]), _pay(kassa, member, created["order"]["id"])
    )

    assert first["payment"]["id"] == second["payment"]["id"]
    assert first["payment"]["stripePaymentIntentId"] == second["payment"]["stripePaymentIntentId"]
    assert first["clientSecret"] == second["clientSecret"]
    order = await Order.get(id=created["order"]["id"].removeprefix("ord_"))
    assert await Payment.filter(order=order).count() == 1


async def test_declined_order_fails_and_can_be_paid_again(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await _create(kassa, member, amount="12.00")
    order_id = created["order"]["id"]

    declined = await _pay(kassa, member, order_id)
    await kassa.confirm_with_card(declined["payment"]["stripePaymentIntentId"], DECLINED)
    assert (await _wait_for_order(kassa, member, order_id, "FAILED"))["status"] == "FAILED"
    retried = await _pay(kassa, member, order_id, paymentMethodId="pm_card_visa")

    assert retried["payment"]["id"] != declined["payment"]["id"]
    assert retried["payment"]["status"] == "SUCCEEDED"
    assert (await _order(kassa, member, order_id))["status"] == "PAID"


async def test_same_reference_is_the_same_order(kassa: Kassa) -> None:
    member = await kassa.member()

    first = await _create(kassa, member, reference="ticket-9")
    second = await _create(kassa, member, reference="ticket-9")
    other_amount = await _create(kassa, member, reference="ticket-9", amount="50.00")

    assert first["order"]["id"] == second["order"]["id"]
    assert other_amount["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert other_amount["field"] == "reference"


async def test_bad_order_input_is_refused(kassa: Kassa) -> None:
    member = await kassa.member()

    bad_email = await _create(kassa, member, customerEmail="not-an-email")
    bad_amount = await _create(kassa, member, amount="0.001")
    too_many = await _create(kassa, member, notifyEmails=[f"c{i}@example.com" for i in range(11)])

    assert (bad_email["code"], bad_email["field"]) == ("INVALID_INPUT", "customerEmail")
    assert (bad_amount["code"], bad_amount["field"]) == ("INVALID_AMOUNT", "amount")
    assert (too_many["code"], too_many["field"]) == ("INVALID_INPUT", "notifyEmails")
    assert await Order.filter(organization__external_id=member.external_id).count() == 0


async def test_another_organizations_order_is_out_of_reach(kassa: Kassa) -> None:
    seller = await kassa.member()
    stranger = await kassa.member()
    created = await _create(kassa, seller)

    assert await _order(kassa, stranger, created["order"]["id"]) is None
    assert (await _pay(kassa, stranger, created["order"]["id"]))["code"] == "NOT_FOUND"
    assert await Payment.filter(order_id=created["order"]["id"].removeprefix("ord_")).count() == 0


async def test_orders_list_by_status(kassa: Kassa) -> None:
    member = await kassa.member()
    paid = await _create(kassa, member, amount="5.00")
    pending = await _create(kassa, member, amount="6.00")
    await _pay(kassa, member, paid["order"]["id"], paymentMethodId="pm_card_visa")

    body = await kassa.gql(ORDERS, {"org": member.organization_id, "status": "PAID"}, member.token)

    ids = [edge["node"]["id"] for edge in body["data"]["organization"]["orders"]["edges"]]
    assert ids == [paid["order"]["id"]]
    assert pending["order"]["id"] not in ids
