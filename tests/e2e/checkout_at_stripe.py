"""Stripe's Checkout as kassa meets it, for tests: the local Stripe-compatible server has none."""

from __future__ import annotations

import uuid
from typing import Unpack

from kassa.demo.local_stripe import SECRET_KEY
from kassa.models import Payment
from kassa.services import checkout
from kassa.services.identity import Caller, OrgRole
from kassa.services.stripe_gateway import (
    CheckoutSessionRequest,
    CheckoutSnapshot,
    StripeGateway,
    checkout_session_params,
    checkout_snapshot,
)
from tests.support import JSON, VISA, Kassa, Member


class CheckoutAtStripe(StripeGateway):
    """The local Stripe-compatible server, plus the part of Stripe's Checkout kassa meets.

    That server has no Checkout Sessions: the session is answered here from the parameters
    kassa would send, and `pay` does what Stripe does when the customer pays on the hosted
    page: it makes the PaymentIntent from the session's `payment_intent_data` (on the local
    server, so kassa can read it back) and confirms it with a card.
    """

    def __init__(self, api_base: str) -> None:
        super().__init__(SECRET_KEY, api_base=api_base)
        self.sessions: dict[str, JSON] = {}

    async def create_checkout_session(
        self, **request: Unpack[CheckoutSessionRequest]
    ) -> CheckoutSnapshot:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        self.sessions[session_id] = checkout_session_params(request)
        return checkout_snapshot(
            {
                "id": session_id,
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "status": "open",
                "amount_total": request["amount"],
                "currency": request["currency"],
            }
        )

    async def expire_checkout_session(self, session_id: str) -> CheckoutSnapshot:
        params = self.sessions[session_id]
        price = params["line_items"][0]["price_data"]
        return checkout_snapshot(
            {
                "id": session_id,
                "status": "expired",
                "amount_total": price["unit_amount"],
                "currency": price["currency"],
            }
        )

    async def pay(self, kassa: Kassa, session_id: str) -> str:
        params = self.sessions[session_id]
        price = params["line_items"][0]["price_data"]
        intent = await kassa.stripe.v1.payment_intents.create_async(
            {
                "amount": price["unit_amount"],
                "currency": price["currency"],
                "customer": params["customer"],
                "metadata": params["payment_intent_data"]["metadata"],
            }
        )
        await kassa.confirm_with_card(intent.id, VISA)
        return intent.id


async def start_order_checkout(member: Member, order_id: str, gateway: CheckoutAtStripe) -> Payment:
    """`startCheckout` for an order, as the resolver calls it, against `gateway`."""
    caller = Caller("user-1", org_external_id=member.external_id, org_role=OrgRole.OWNER)
    request = checkout.CheckoutRequest(
        success_url="https://shop.example/thanks?s={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/cart",
        for_order=True,
        order_id=uuid.UUID(order_id.removeprefix("ord_")),
    )
    started = await checkout.start_checkout(caller, gateway, request, expiry_days=365)
    return started.payment
