"""Strings that are enums get an enum field beside them; the strings stay as clients know them."""

from __future__ import annotations

from kassa.services.identity import OrgRole
from tests.e2e.hosted_checkout import HostedPage, start_checkout
from tests.e2e.test_orders import _create, _wait_for_order
from tests.support import Kassa

MEMBERSHIP = "{ viewer { organizations { role organizationRole } } }"
CHECKOUT_STATUS = """
query($id: String!) {
  checkoutStatus(sessionId: $id) { status paymentStatus sessionStatus sessionPaymentStatus }
}
"""


async def test_membership_role_is_a_string_and_an_enum(kassa: Kassa) -> None:
    # given
    members = {role: await kassa.member(role) for role in OrgRole}

    # when
    answers = {role: await kassa.gql(MEMBERSHIP, token=m.token) for role, m in members.items()}

    # then
    assert {role: body["data"]["viewer"]["organizations"] for role, body in answers.items()} == {
        role: [{"role": role.value, "organizationRole": role.name}] for role in OrgRole
    }


async def test_checkout_status_is_a_string_and_an_enum(kassa: Kassa) -> None:
    # given: a Checkout Session completed and paid
    member = await kassa.member()
    order_id = (await _create(kassa, member, amount="12.00", currency="usd"))["order"]["id"]
    started = await start_checkout(kassa, member, orderId=order_id)
    await HostedPage(started["url"]).pay()
    await _wait_for_order(kassa, member, order_id, "PAID")

    # when
    body = await kassa.gql(CHECKOUT_STATUS, {"id": started["sessionId"]}, member.token)

    # then
    assert body["data"]["checkoutStatus"] == {
        "status": "complete",
        "paymentStatus": "paid",
        "sessionStatus": "COMPLETE",
        "sessionPaymentStatus": "PAID",
    }
