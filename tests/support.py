"""Helpers for tests that use kassa as its clients do: GraphQL over HTTP, Stripe webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email
import email.policy
import json
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import stripe
from tortoise import connections

from kassa.config import Settings
from kassa.models import StripeEvent
from kassa.services.identity import OrgRole, issue_dev_token

# Stripe's own example objects, kept in the repository with their licence (see its README).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe" / "objects.json"
VISA = "4242424242424242"
DECLINED = "4000000000000341"
# The local Stripe server sends its events about a second after the change.
WEBHOOK_GRACE_SECONDS = 15

ORGANIZATION_ID_QUERY = "{ viewer { organizations { organization { id } } } }"
TOP_UP = """
mutation TopUp($input: TopUpWalletInput!) {
  topUpWallet(input: $input) {
    __typename
    ... on PaymentIntentCreated { clientSecret payment { id status stripePaymentIntentId } }
    ... on UserError { code message field }
  }
}
"""
PAYMENT = """
query Payment($id: ID!) {
  payment(id: $id) {
    id status failureCode failureMessage stripeChargeId paidAt
    amount { amount currency }
    card { brand last4 expMonth expYear }
  }
}
"""
WALLET = """
query Wallet($org: ID!, $currency: String!) {
  organization(id: $org) {
    wallet(currency: $currency) {
      balance { amount currency }
      transactions(first: 10) {
        edges { node { kind amount { amount } balanceAfter { amount } payment { id } } }
      }
    }
  }
}
"""

JSON = dict[str, Any]


class Inbox:
    """An aiosmtpd handler keeping every message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str, subject_start: str = "") -> list[EmailMessage]:
        return [
            message
            for message in self.messages
            if message["To"] == address and str(message["Subject"]).startswith(subject_start)
        ]

    async def wait_for(self, address: str, subject_start: str, count: int = 1) -> None:
        deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
        while True:
            if len(self.to(address, subject_start)) >= count or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)


@dataclass
class Member:
    """A signed-in user of one organization."""

    token: str
    organization_id: str
    external_id: str


@dataclass
class Kassa:
    http: httpx.AsyncClient
    settings: Settings
    stripe: stripe.StripeClient
    webhook_url: str

    def token(
        self,
        org: str | None,
        role: OrgRole = OrgRole.OWNER,
        *,
        sub: str = "user-1",
        platform_admin: bool = False,
    ) -> str:
        assert self.settings.jwt_secret
        return issue_dev_token(
            secret=self.settings.jwt_secret,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            org_id=org,
            role=role,
            subject=sub,
            platform_admin=platform_admin,
            now=int(time.time()),
        )

    async def gql(
        self, query: str, variables: JSON | None = None, token: str | None = None
    ) -> JSON:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        return body

    async def member(self, role: OrgRole = OrgRole.OWNER) -> Member:
        external_id = f"org-{uuid.uuid4().hex[:10]}"
        token = self.token(external_id, role)
        body = await self.gql(ORGANIZATION_ID_QUERY, token=token)
        organization_id = body["data"]["viewer"]["organizations"][0]["organization"]["id"]
        return Member(token, organization_id, external_id)

    async def top_up(
        self, member: Member, amount: str, currency: str = "usd", **extra: Any
    ) -> JSON:
        variables = {
            "input": {
                "organizationId": member.organization_id,
                "amount": amount,
                "currency": currency,
                **extra,
            }
        }
        body = await self.gql(TOP_UP, variables, member.token)
        assert "errors" not in body, body
        result: JSON = body["data"]["topUpWallet"]
        return result

    async def confirm_with_card(self, intent_id: str, card_number: str) -> None:
        """As Stripe.js does for a card form: create the method, attach it, confirm."""
        method = await self.stripe.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {"number": card_number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        await self.stripe.v1.payment_intents.update_async(intent_id, {"payment_method": method.id})
        # A decline reaches kassa as a webhook, as it would from Stripe.
        with contextlib.suppress(stripe.CardError):
            await self.stripe.v1.payment_intents.confirm_async(intent_id)

    async def payment(self, member: Member, payment_id: str) -> JSON:
        body = await self.gql(PAYMENT, {"id": payment_id}, member.token)
        payment: JSON = body["data"]["payment"]
        return payment

    async def wait_for_status(self, member: Member, payment_id: str, status: str) -> JSON:
        """The payment once it reaches `status`, or as it is after the webhook's grace time."""
        deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
        while True:
            payment = await self.payment(member, payment_id)
            if payment["status"] == status or time.monotonic() > deadline:
                return payment
            await asyncio.sleep(0.1)

    async def wait_for_card(self, member: Member, payment_id: str) -> JSON:
        deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
        while True:
            payment = await self.payment(member, payment_id)
            if payment["card"] is not None or time.monotonic() > deadline:
                return payment
            await asyncio.sleep(0.05)

    async def wallet(self, member: Member, currency: str = "usd") -> JSON:
        body = await self.gql(
            WALLET, {"org": member.organization_id, "currency": currency}, member.token
        )
        wallet: JSON = body["data"]["organization"]["wallet"]
        return wallet

    def sign(self, payload: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
        header: str = stripe.WebhookSignature.generate_signature_header(
            payload, secret or self.settings.webhook_secrets[0], timestamp=timestamp
        )
        return header

    async def deliver_and_wait(self, payload: str) -> StripeEvent:
        """Deliver a signed event and wait until a worker has handled it, or given up."""
        response = await self.deliver(payload, self.sign(payload))
        assert response.status_code == 200, response.text
        return await wait_for_event(json.loads(payload)["id"])

    async def deliver(self, payload: str, signature: str | None) -> httpx.Response:
        headers = {b"Content-Type": b"application/json"}
        if signature is not None:
            headers[b"Stripe-Signature"] = signature.encode()
        return await self.http.post("/webhooks/stripe", content=payload.encode(), headers=headers)


async def wait_for_event(event_id: str, attempts: int = 1) -> StripeEvent:
    """The event once processing has been tried `attempts` times or it is handled."""
    deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
    while True:
        event = await StripeEvent.get(id=event_id)
        settled = event.status not in ("PENDING", "FAILED") or event.attempts >= attempts
        if settled or time.monotonic() > deadline:
            return event
        await asyncio.sleep(0.05)


@cache
def _fixtures() -> JSON:
    resources: JSON = json.loads(FIXTURES.read_text())["resources"]
    return resources


def fixture(name: str) -> JSON:
    """A fresh copy of Stripe's own example object for resource `name`."""
    return copy.deepcopy(_fixtures()[name])


def payment_intent_event(
    event_type: str,
    intent_id: str,
    *,
    amount: int,
    currency: str = "usd",
    status: str,
    created: int | None = None,
    failure: tuple[str, str] | None = None,
) -> str:
    """A Stripe-shaped `payment_intent.*` event built from Stripe's fixtures."""
    intent = fixture("payment_intent")
    intent.update(
        id=intent_id,
        amount=amount,
        amount_received=amount if status == "succeeded" else 0,
        currency=currency,
        status=status,
        latest_charge=None,
        payment_method=None,
        last_payment_error=(
            {"type": "card_error", "code": failure[0], "message": failure[1]} if failure else None
        ),
    )
    return stripe_event(event_type, intent, created)


def stripe_event(event_type: str, data_object: JSON, created: int | None = None) -> str:
    """A Stripe-shaped event around `data_object`, from Stripe's own fixture."""
    event = fixture("event")
    event.update(
        id=f"evt_{uuid.uuid4().hex[:24]}",
        type=event_type,
        created=created or int(time.time()),
        livemode=False,
        data={"object": data_object},
    )
    event.pop("account", None)
    return json.dumps(event)


def refund_object(
    *, intent_id: str, charge_id: str | None, amount: int, currency: str = "usd", status: str
) -> JSON:
    refund = fixture("refund")
    refund.update(
        id=f"re_{uuid.uuid4().hex[:24]}",
        amount=amount,
        currency=currency,
        payment_intent=intent_id,
        charge=charge_id,
        status=status,
        metadata={},
    )
    return refund


async def assert_ledger_consistent() -> None:
    """Σ balances per unit is zero and every cached balance equals the sum of its transfers."""
    unbalanced = await connections.get("default").execute_query_dict(
        "SELECT unit, sum(balance) AS total FROM ledger_accounts GROUP BY unit "
        "HAVING sum(balance) <> 0"
    )
    assert unbalanced == []
    drifted = await connections.get("default").execute_query_dict(
        "SELECT a.key, a.balance, "
        "  coalesce((SELECT sum(amount) FROM ledger_transfers WHERE credit_account_id = a.id), 0)"
        " - coalesce((SELECT sum(amount) FROM ledger_transfers WHERE debit_account_id = a.id), 0)"
        "  AS computed "
        "FROM ledger_accounts a"
    )
    assert [row for row in drifted if row["balance"] != row["computed"]] == []
