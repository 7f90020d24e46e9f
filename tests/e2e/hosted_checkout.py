"""Stripe Checkout as a customer meets it on the local Stripe-compatible server: the session
`startCheckout` makes, its hosted page, and the requests that page's script sends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from kassa.demo.local_stripe import PUBLISHABLE_KEY
from kassa.models import Payment
from kassa.services import checkout
from kassa.services.identity import Caller, OrgRole
from kassa.services.stripe_gateway import StripeGateway
from tests.support import JSON, VISA, Kassa, Member

START = """
mutation Start($input: StartCheckoutInput!) {
  startCheckout(input: $input) {
    ... on CheckoutStarted { sessionId url payment { id status } }
    ... on UserError { code message field }
  }
}
"""
SUCCESS_URL = "https://shop.example/thanks?s={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://shop.example/cart"
THREE_D_SECURE = "4000002500003155"


async def start_checkout(kassa: Kassa, member: Member, **target: Any) -> JSON:
    """`startCheckout` for `orderId=…` or `organizationId=…, creditPackage=…`."""
    variables = {"input": {"successUrl": SUCCESS_URL, "cancelUrl": CANCEL_URL, **target}}
    body = await kassa.gql(START, variables, member.token)
    started: JSON = body["data"]["startCheckout"]
    assert "sessionId" in started, body
    return started


async def start_order_checkout(member: Member, order_id: str, gateway: StripeGateway) -> Payment:
    """`startCheckout` for an order, as the resolver calls it, through `gateway`."""
    caller = Caller("user-1", org_external_id=member.external_id, org_role=OrgRole.OWNER)
    request = checkout.CheckoutRequest(
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        for_order=True,
        order_id=uuid.UUID(order_id.removeprefix("ord_")),
    )
    started = await checkout.start_checkout(caller, gateway, request, expiry_days=365)
    return started.payment


class HostedPage:
    """The session's hosted page, driven with the requests its script sends: a SetupIntent
    confirmed by Stripe.js collects the card, the page's `/confirm` pays the session, and
    3-D Secure is finished as Stripe.js's `confirmCardPayment` finishes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stripe_base = url.split("/checkout.stripe.com/")[0]

    async def html(self) -> str:
        async with httpx.AsyncClient() as browser:
            response = await browser.get(self.url)
        assert response.status_code == 200, response.text
        return response.text

    async def pay(self, card_number: str = VISA, *, authenticate: bool = True) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as browser:
            method = await self._collect_card(browser, card_number)
            answer = await browser.post(f"{self.url}/confirm", json={"payment_method": method})
            if answer.status_code == 200 and answer.json()["status"] == "requires_action":
                await self._three_d_secure(browser, answer.json()["client_secret"], authenticate)
                answer = await browser.post(f"{self.url}/confirm", json={})
            return answer

    async def _collect_card(self, browser: httpx.AsyncClient, card_number: str) -> str:
        secret = (await browser.post(f"{self.url}/setup_intent", json={})).json()["client_secret"]
        confirm_url = f"{self.stripe_base}/v1/setup_intents/{secret.split('_secret_')[0]}/confirm"
        card = {"number": card_number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
        body = {"key": PUBLISHABLE_KEY, "client_secret": secret, "use_stripe_sdk": True}
        setup = await browser.post(
            confirm_url, json=body | {"payment_method_data": {"type": "card", "card": card}}
        )
        if setup.json().get("status") == "requires_action":  # Stripe.js's 3-D Secure box
            setup = await browser.post(confirm_url, json=body)
        method: str = setup.json()["payment_method"]
        return method

    async def _three_d_secure(
        self, browser: httpx.AsyncClient, client_secret: str, authenticate: bool
    ) -> None:
        intent_id = client_secret.split("_secret_")[0]
        response = await browser.post(
            f"{self.stripe_base}/v1/payment_intents/{intent_id}/_authenticate",
            params={"success": "true" if authenticate else "false"},
            json={"key": PUBLISHABLE_KEY, "client_secret": client_secret},
        )
        assert response.status_code == 200, response.text
