"""Strings that are enums get an enum field beside them; the strings stay as clients know them."""

from __future__ import annotations

from kassa.services.identity import OrgRole
from tests.e2e.test_checkout import _checkout_payment, _session
from tests.e2e.test_orders import _create
from tests.support import Kassa, stripe_event

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
    # given: a Checkout Session Stripe says was completed and paid
    member = await kassa.member()
    order = await _create(kassa, member, amount="12.00", currency="usd")
    payment = await _checkout_payment(member, order["order"]["id"])
    session = _session(payment, status="complete", payment_status="paid")
    await kassa.deliver_and_wait(stripe_event("checkout.session.completed", session))

    # when
    body = await kassa.gql(CHECKOUT_STATUS, {"id": session["id"]}, member.token)

    # then
    assert body["data"]["checkoutStatus"] == {
        "status": "complete",
        "paymentStatus": "paid",
        "sessionStatus": "COMPLETE",
        "sessionPaymentStatus": "PAID",
    }
