"""Saved cards: set up in the browser, made default, used off-session, detached."""

from __future__ import annotations

import asyncio
from typing import Any

from kassa.models import Organization, SavedCard
from tests.support import JSON, Kassa, Member, fixture, stripe_event

SETUP = """
mutation Setup($org: ID!) {
  createSetupIntent(input: {organizationId: $org}) {
    ... on SetupIntentCreated { setupIntentId clientSecret }
    ... on UserError { code }
  }
}
"""
CARDS = (
    "query($org: ID!) { organization(id: $org) { paymentMethods { id isDefault card { last4 } } } }"
)
SET_DEFAULT = """
mutation Default($id: ID!) {
  setDefaultPaymentMethod(input: {paymentMethodId: $id}) {
    ... on PaymentMethodChanged { paymentMethod { id isDefault } }
    ... on UserError { code }
  }
}
"""
DETACH = """
mutation Detach($id: ID!) {
  detachPaymentMethod(input: {paymentMethodId: $id}) {
    ... on PaymentMethodChanged { paymentMethod { id } }
    ... on UserError { code }
  }
}
"""


async def _cards(kassa: Kassa, member: Member) -> list[JSON]:
    body = await kassa.gql(CARDS, {"org": member.organization_id}, member.token)
    cards: list[JSON] = body["data"]["organization"]["paymentMethods"]
    return cards


async def _saved_card(kassa: Kassa, member: Member) -> str:
    """As a frontend does: SetupIntent, card form, confirmCardSetup; Stripe then tells kassa."""
    setup = await kassa.gql(SETUP, {"org": member.organization_id}, member.token)
    intent_id = setup["data"]["createSetupIntent"]["setupIntentId"]
    method = await kassa.stripe.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    await kassa.stripe.v1.setup_intents.confirm_async(intent_id, {"payment_method": method.id})
    organization = await Organization.get(external_id=member.external_id)
    intent: dict[str, Any] = fixture("setup_intent")
    intent.update(
        id=intent_id,
        status="succeeded",
        payment_method=method.id,
        customer=organization.stripe_customer_id,
    )
    await kassa.deliver_and_wait(stripe_event("setup_intent.succeeded", intent))
    for _ in range(200):
        cards = await _cards(kassa, member)
        if cards:
            card_id: str = cards[0]["id"]
            return card_id
        await asyncio.sleep(0.05)
    raise AssertionError("the saved card never appeared")


async def test_saved_card_is_default_pays_off_session_and_can_be_detached(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    card_id = await _saved_card(kassa, member)
    assert (await _cards(kassa, member))[0]["card"]["last4"] == "4242"

    # when / then: the default card pays when none is named
    made_default = await kassa.gql(SET_DEFAULT, {"id": card_id}, member.token)
    assert made_default["data"]["setDefaultPaymentMethod"]["paymentMethod"]["isDefault"] is True
    paid = await kassa.top_up(member, "15.00")
    assert paid["payment"]["status"] == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "15.00"

    # when / then: once detached, a top-up waits for a card again
    detached = await kassa.gql(DETACH, {"id": card_id}, member.token)
    assert detached["data"]["detachPaymentMethod"]["paymentMethod"]["id"] == card_id
    assert await _cards(kassa, member) == []
    unpaid = await kassa.top_up(member, "5.00")
    assert unpaid["payment"]["status"] == "REQUIRES_PAYMENT_METHOD"


async def test_card_attached_in_stripe_appears_once(kassa: Kassa) -> None:
    member = await kassa.member()
    await kassa.gql(SETUP, {"org": member.organization_id}, member.token)
    organization = await Organization.get(external_id=member.external_id)
    method: dict[str, Any] = fixture("payment_method")
    method.update(
        id="pm_attached_" + member.external_id,
        customer=organization.stripe_customer_id,
        card={"brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2031},
    )

    for _ in range(2):
        await kassa.deliver_and_wait(stripe_event("payment_method.attached", method))
    await kassa.deliver_and_wait(
        stripe_event("payment_method.detached", {**method, "customer": None})
    )

    assert await SavedCard.filter(stripe_payment_method_id=method["id"]).count() == 1
    assert await _cards(kassa, member) == []


async def test_another_organization_cannot_use_the_card(kassa: Kassa) -> None:
    owner = await kassa.member()
    stranger = await kassa.member()
    card_id = await _saved_card(kassa, owner)

    by_stranger = await kassa.gql(SET_DEFAULT, {"id": card_id}, stranger.token)
    detach_by_stranger = await kassa.gql(DETACH, {"id": card_id}, stranger.token)

    assert by_stranger["data"]["setDefaultPaymentMethod"] == {"code": "NOT_FOUND"}
    assert detach_by_stranger["data"]["detachPaymentMethod"] == {"code": "NOT_FOUND"}
    assert len(await _cards(kassa, owner)) == 1
