"""Invoices: one per succeeded payment, numbered per organization without gaps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tortoise.transactions import in_transaction

from kassa.ids import IdKind, decode
from kassa.models import Invoice, Payment, PaymentStatus, StripeEvent
from kassa.services import clock, invoices
from tests.e2e.test_refunds import _refund
from tests.support import VISA, Kassa, Member


async def _numbers(member: Member) -> list[int | None]:
    organization_id = decode(IdKind.ORGANIZATION, member.organization_id)
    rows = await Invoice.filter(organization_id=organization_id).order_by("sequence")
    return [row.sequence for row in rows]


async def _invoice_of(payment_id: str) -> Invoice:
    return await Invoice.get(payment_id=decode(IdKind.PAYMENT, payment_id))


INVOICES = """
query($org: ID!, $after: String) {
  organization(id: $org) {
    invoices(first: 2, after: $after) {
      edges { node { id number status total { amount currency } payment { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { ... on Invoice { id number } } }"


async def test_paid_top_ups_get_invoice_one_then_two(kassa: Kassa) -> None:
    # given
    member = await kassa.member()

    # when
    first = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")
    second = await kassa.top_up(member, "20.00", paymentMethodId="pm_card_visa")

    # then: newest first, each naming its payment
    body = await kassa.gql(INVOICES, {"org": member.organization_id}, member.token)
    connection = body["data"]["organization"]["invoices"]
    prefix = member.organization_id.removeprefix("org_")[:8].upper()
    assert [edge["node"] | {"id": None} for edge in connection["edges"]] == [
        {
            "id": None,
            "number": f"{prefix}-000002",
            "status": "paid",
            "total": {"amount": "20.00", "currency": "usd"},
            "payment": {"id": second["payment"]["id"]},
        },
        {
            "id": None,
            "number": f"{prefix}-000001",
            "status": "paid",
            "total": {"amount": "10.00", "currency": "usd"},
            "payment": {"id": first["payment"]["id"]},
        },
    ]
    one = await _invoice_of(first["payment"]["id"])
    assert one.document["lines"] == [
        {"description": "Wallet top-up (USD)", "amount": 1000, "quantity": 1, "detail": None}
    ]


async def test_invoices_page_on_and_are_nodes_of_their_organization_only(kassa: Kassa) -> None:
    # given: three invoices
    member, stranger = await kassa.member(), await kassa.member()
    for amount in ("1.00", "2.00", "3.00"):
        await kassa.top_up(member, amount, paymentMethodId="pm_card_visa")
    variables = {"org": member.organization_id}
    first_page = await kassa.gql(INVOICES, variables, member.token)
    cursor = first_page["data"]["organization"]["invoices"]["pageInfo"]["endCursor"]

    # when
    second_page = await kassa.gql(INVOICES, {**variables, "after": cursor}, member.token)
    edges = second_page["data"]["organization"]["invoices"]["edges"]
    invoice_id = edges[0]["node"]["id"]
    mine = await kassa.gql(NODE, {"id": invoice_id}, member.token)
    theirs = await kassa.gql(NODE, {"id": invoice_id}, stranger.token)

    # then
    assert [edge["node"]["number"][-1] for edge in edges] == ["1"]
    assert not second_page["data"]["organization"]["invoices"]["pageInfo"]["hasNextPage"]
    assert mine["data"]["node"] == {"id": invoice_id, "number": edges[0]["node"]["number"]}
    assert theirs["data"]["node"] is None


async def test_refunds_show_in_the_status(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    paid = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")

    # when
    await _refund(kassa, member.token, paid["payment"]["id"], amount="4.00")
    partly = await kassa.gql(INVOICES, {"org": member.organization_id}, member.token)
    await _refund(kassa, member.token, paid["payment"]["id"], amount="6.00")
    fully = await kassa.gql(INVOICES, {"org": member.organization_id}, member.token)

    # then
    assert partly["data"]["organization"]["invoices"]["edges"][0]["node"]["status"] == (
        "partially_refunded"
    )
    assert fully["data"]["organization"]["invoices"]["edges"][0]["node"]["status"] == "refunded"


# Payments into one wallet queue for its ledger row anyway; in five currencies, five
# wallets: only the invoice counter keeps them from taking one number twice.
CURRENCIES = ("usd", "eur", "gbp", "chf", "cad")


async def test_twenty_concurrent_payments_take_numbers_one_to_twenty(kassa: Kassa) -> None:
    # given
    member = await kassa.member()

    # when
    paid = await asyncio.gather(
        *(
            kassa.top_up(member, f"{n}.00", CURRENCIES[n % 5], paymentMethodId="pm_card_visa")
            for n in range(1, 21)
        )
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
        assert (await kassa.deliver_and_wait(payload)).status == "PROCESSED"

    # then
    assert await _numbers(member) == [1]
