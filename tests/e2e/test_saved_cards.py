"""Saved cards: set up in the browser, made default, used off-session, detached."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from kassa.ids import IdKind, decode, encode
from kassa.models import Organization, Payment, SavedCard
from tests.e2e.test_orders import _create, _pay
from tests.e2e.test_payment_actions import CONFIRM, _call
from tests.support import JSON, VISA, Kassa, Member, fixture, stripe_event

MASTERCARD = "5555555555554444"

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


async def _saved_card(kassa: Kassa, member: Member, number: str = VISA) -> str:
    """As a frontend does: SetupIntent, card form, confirmCardSetup; Stripe then tells kassa."""
    known = {card["id"] for card in await _cards(kassa, member)}
    setup = await kassa.gql(SETUP, {"org": member.organization_id}, member.token)
    intent_id = setup["data"]["createSetupIntent"]["setupIntentId"]
    method = await kassa.stripe.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
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
        new = [card["id"] for card in await _cards(kassa, member) if card["id"] not in known]
        if new:
            card_id: str = new[0]
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


async def _stripe_id(card_id: str) -> str:
    card = await SavedCard.get(id=decode(IdKind.SAVED_CARD, card_id))
    return card.stripe_payment_method_id


async def _charged_with(kassa: Kassa, intent_id: str) -> str | None:
    method = (await kassa.stripe.v1.payment_intents.retrieve_async(intent_id)).payment_method
    return method if method is None or isinstance(method, str) else method.id


async def _intent_count(kassa: Kassa) -> int:
    page = await kassa.stripe.v1.payment_intents.list_async({"limit": 100})
    return len([intent async for intent in page.auto_paging_iter()])


async def test_a_saved_card_that_is_not_the_default_pays_by_its_id(kassa: Kassa) -> None:
    # given: a top-up begun before any card was saved; then the first card saved is the
    # default, the second is not
    member = await kassa.member()
    under_way = await kassa.top_up(member, "6.00")
    await _saved_card(kassa, member)
    second = await _saved_card(kassa, member, MASTERCARD)
    stripe_id = await _stripe_id(second)
    order = await _create(kassa, member, amount="8.00", currency="usd")

    # when: topUpWallet, payOrder and confirmPayment name the card by its kassa id
    topped = await kassa.top_up(member, "12.00", paymentMethodId=second)
    paid = await _pay(kassa, member, order["order"]["id"], paymentMethodId=second)
    confirmed = await _call(
        kassa, CONFIRM, member.token, paymentId=under_way["payment"]["id"], paymentMethodId=second
    )
    by_stripe_id = await kassa.top_up(member, "3.00", paymentMethodId=stripe_id)

    # then: each is paid with that card, not the default
    assert topped["payment"]["status"] == "SUCCEEDED", topped
    assert paid["payment"]["status"] == "SUCCEEDED", paid
    assert confirmed["payment"]["status"] == "SUCCEEDED", confirmed
    assert by_stripe_id["payment"]["status"] == "SUCCEEDED", by_stripe_id
    for answer in (topped, paid, under_way, by_stripe_id):
        assert await _charged_with(kassa, answer["payment"]["stripePaymentIntentId"]) == stripe_id
    assert (await kassa.wallet(member))["balance"]["amount"] == "21.00"


async def test_a_card_not_the_organizations_own_pays_nothing_and_is_not_found(
    kassa: Kassa,
) -> None:
    # given: a card of another organization, one detached, ids that name no card
    owner = await kassa.member()
    stranger = await kassa.member()
    owners_card = await _saved_card(kassa, owner)
    detached = await _saved_card(kassa, stranger)
    await kassa.gql(DETACH, {"id": detached}, stranger.token)
    order = await _create(kassa, stranger, amount="5.00", currency="usd")
    under_way = await kassa.top_up(stranger, "4.00")
    assert under_way["payment"]["status"] == "REQUIRES_PAYMENT_METHOD"
    named = [
        owners_card,
        await _stripe_id(owners_card),
        detached,
        "card_" + "0" * 32,
        "card_visa",
        encode(IdKind.PAYMENT, uuid.uuid4()),
    ]
    intents_before = await _intent_count(kassa)

    # when
    answers = []
    for card in named:
        answers.append(await kassa.top_up(stranger, "4.00", paymentMethodId=card))
        answers.append(await _pay(kassa, stranger, order["order"]["id"], paymentMethodId=card))
        answers.append(
            await _call(
                kassa,
                CONFIRM,
                stranger.token,
                paymentId=under_way["payment"]["id"],
                paymentMethodId=card,
            )
        )

    # then: nothing was created, here or at Stripe
    assert {(answer.get("code"), answer.get("field")) for answer in answers} == {
        ("NOT_FOUND", "paymentMethodId")
    }, answers
    assert await _intent_count(kassa) == intents_before
    organization = await Organization.get(external_id=stranger.external_id)
    assert await Payment.filter(organization=organization).count() == 1
    assert await _charged_with(kassa, under_way["payment"]["stripePaymentIntentId"]) is None
