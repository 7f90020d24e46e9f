"""confirmPayment and cancelPayment as a frontend or host app uses them."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_orders import _create, _order, _pay
from tests.support import JSON, Kassa

CONFIRM = """
mutation Confirm($input: ConfirmPaymentInput!) {
  confirmPayment(input: $input) {
    ... on PaymentChanged { payment { id status failureCode } }
    ... on UserError { code message field }
  }
}
"""
CANCEL = """
mutation Cancel($input: CancelPaymentInput!) {
  cancelPayment(input: $input) {
    ... on PaymentChanged { payment { id status } }
    ... on UserError { code message field }
  }
}
"""


async def _call(kassa: Kassa, query: str, token: str, **fields: Any) -> JSON:
    body = await kassa.gql(query, {"input": fields}, token)
    result: JSON = next(iter(body["data"].values()))
    return result


async def test_confirm_with_a_card_pays_once(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "7.00")
    payment_id = created["payment"]["id"]

    confirmed = await _call(
        kassa, CONFIRM, member.token, paymentId=payment_id, paymentMethodId="pm_card_visa"
    )
    again = await _call(kassa, CONFIRM, member.token, paymentId=payment_id)

    assert confirmed["payment"]["status"] == "SUCCEEDED"
    assert again["code"] == "INVALID_STATE"
    assert (await kassa.wallet(member))["balance"]["amount"] == "7.00"


async def test_confirm_with_a_declined_card_says_so_and_fails_the_payment(kassa: Kassa) -> None:
    member = await kassa.member()
    created = await kassa.top_up(member, "7.00")

    declined = await _call(
        kassa,
        CONFIRM,
        member.token,
        paymentId=created["payment"]["id"],
        paymentMethodId="pm_card_chargeCustomerFail",
    )

    assert declined["code"] == "CARD_DECLINED"
    payment = await kassa.payment(member, created["payment"]["id"])
    assert (payment["status"], payment["failureCode"]) == ("FAILED", "card_declined")


async def test_cancel_cancels_the_payment_and_its_order(kassa: Kassa) -> None:
    member = await kassa.member()
    order = await _create(kassa, member, amount="9.00", currency="usd")
    paying = await _pay(kassa, member, order["order"]["id"])

    canceled = await _call(kassa, CANCEL, member.token, paymentId=paying["payment"]["id"])
    twice = await _call(kassa, CANCEL, member.token, paymentId=paying["payment"]["id"])

    assert canceled["payment"]["status"] == "CANCELED"
    assert twice["code"] == "INVALID_STATE"
    assert (await _order(kassa, member, order["order"]["id"]))["status"] == "CANCELED"


async def test_another_organization_cannot_touch_the_payment(kassa: Kassa) -> None:
    owner = await kassa.member()
    stranger = await kassa.member()
    created = await kassa.top_up(owner, "2.00")

    result = await _call(kassa, CANCEL, stranger.token, paymentId=created["payment"]["id"])

    assert result["code"] == "NOT_FOUND"
