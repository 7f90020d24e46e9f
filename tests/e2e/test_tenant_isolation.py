"""Tenant isolation across the whole schema, not a few hand-picked fields.

Organization A has money, an order with a refund, credits, a subscription. hypothesis-graphql
generates queries and mutations over every field of kassa's schema; every ID argument (and ID
field of an input) carries one of A's ids. They are sent as an owner of organization B. No
answer may hold anything of A's (ids, Stripe ids, amount, e-mail, reference), nothing of A's
may change, and nothing may fail as an internal error.
"""

from __future__ import annotations

import time
from typing import Any

import graphql
import hypothesis_graphql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.models import (
    CreditLot,
    CreditSubscription,
    LedgerAccount,
    Order,
    Organization,
    Payment,
    Refund,
)
from kassa.schema import build_schema
from tests.e2e.test_credit_spending import _paid_package
from tests.e2e.test_orders import _create, _pay
from tests.e2e.test_refunds import _refund
from tests.e2e.test_subscriptions import _subscribe
from tests.support import Kassa, Member

EXAMPLES = 300
AMOUNT = "7391.57"
EMAIL = "a-secret-7f3k@example.com"
REFERENCE = "A-REF-9b1e"
BILLING_EMAIL = "a-billing-5q2w@example.com"
SET_BILLING_EMAIL = """
mutation($input: SetBillingEmailInput!) {
  setBillingEmail(input: $input) { __typename }
}
"""
A_IDS_QUERY = """
query($org: ID!) {
  organization(id: $org) {
    id
    payments(first: 50) { edges { node { id stripePaymentIntentId stripeChargeId
      refunds { id } order { id } invoice { id number pdfUrl } } } }
    invoices(first: 50) { edges { node { id number pdfUrl payment { id } } } }
    wallet(currency: "usd") { transactions { edges { node { id } } } }
    credits { lots { id } transactions { edges { node { id } } } }
    subscriptions { id invoices { edges { node { id } } } }
  }
}
"""


async def _organization_a(kassa: Kassa) -> tuple[Member, list[str], list[str]]:
    """A with data; its GraphQL ids, and every string of A's that B must never see."""
    a = await kassa.member()
    topped = await kassa.top_up(a, AMOUNT, paymentMethodId="pm_card_visa")
    assert topped["payment"]["status"] == "SUCCEEDED", topped
    order = await _create(
        kassa, a, amount="42.00", currency="usd", customerEmail=EMAIL, reference=REFERENCE
    )
    paid = await _pay(kassa, a, order["order"]["id"], paymentMethodId="pm_card_visa")
    assert (await _refund(kassa, a.token, paid["payment"]["id"], amount="2.00"))["refund"]
    await _paid_package(kassa, a, "trial")
    billing = {"input": {"organizationId": a.organization_id, "email": BILLING_EMAIL}}
    assert (await kassa.gql(SET_BILLING_EMAIL, billing, a.token))["data"]["setBillingEmail"] == {
        "__typename": "BillingEmailSet"
    }
    subscribed = await _subscribe(kassa, a, "value-monthly", paymentMethodId="pm_card_visa")
    assert subscribed["subscription"]["status"] == "ACTIVE", subscribed
    body = await kassa.gql(A_IDS_QUERY, {"org": a.organization_id}, a.token)
    ids = sorted(_strings(body["data"]) - {None})
    secrets = [*ids, AMOUNT, EMAIL, REFERENCE, BILLING_EMAIL, a.external_id]
    return a, [i for i in ids if not i.startswith(("pi_", "ch_", "py_"))], secrets


def _strings(value: Any) -> set[Any]:
    if isinstance(value, dict):
        return set().union(*(_strings(inner) for inner in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(inner) for inner in value))
    return {value} if isinstance(value, str) else set()


async def _snapshot(a: Member) -> list[Any]:
    """Everything of A's that a request could change."""
    organization = await Organization.get(external_id=a.external_id)
    return [
        await LedgerAccount.filter(organization=organization)
        .order_by("id")
        .values("key", "balance"),
        await Payment.filter(organization=organization)
        .order_by("id")
        .values("id", "status", "amount_refunded", "stripe_payment_method_id"),
        await Order.filter(organization=organization).order_by("id").values("id", "status"),
        await Refund.filter(payment__organization=organization)
        .order_by("id")
        .values("id", "status"),
        await CreditLot.filter(organization=organization).order_by("id").values("id", "remaining"),
        await CreditSubscription.filter(organization=organization)
        .order_by("id")
        .values("id", "status", "stripe_price_id", "cancel_at_period_end"),
        (
            organization.notify_url,
            organization.credit_debt,
            organization.stripe_customer_id,
            organization.billing_email,
        ),
    ]


def _value(text: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=text)


async def test_b_never_sees_or_changes_anything_of_a(kassa: Kassa) -> None:
    # given
    a, a_ids, secrets = await _organization_a(kassa)
    b = await kassa.member()
    before = await _snapshot(a)
    documents = st.one_of(
        *(
            strategy(
                build_schema().as_str(),
                custom_scalars={
                    "ID": st.sampled_from(a_ids).map(_value),
                    "Decimal": st.sampled_from(["1.00", "0.50", "100"]).map(_value),
                    "DateTime": st.just(_value("2026-01-01T00:00:00Z")),
                },
                allow_x00=False,
            )
            for strategy in (hypothesis_graphql.queries, hypothesis_graphql.mutations)
        )
    )
    answers: list[tuple[str, int, str]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(document=documents)
    def collect(document: object) -> None:
        answers.append((str(document), 0, ""))

    # when: the documents are drawn first (hypothesis is synchronous), then sent as B
    started = time.monotonic()
    collect()
    for index, (document, _, _) in enumerate(answers):
        response = await kassa.http.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {b.token}"},
        )
        answers[index] = (document, response.status_code, response.text)

    # then
    leaks = [
        (document, secret) for document, _, text in answers for secret in secrets if secret in text
    ]
    failures = [
        (document, status, text)
        for document, status, text in answers
        if status not in (200, 400) or "Internal error" in text
    ]
    assert leaks == []
    assert failures == []
    assert await _snapshot(a) == before
    executed = sum(1 for _, _, text in answers if '"data":{' in text.replace(" ", ""))
    print(
        f"isolation sweep: {len(answers)} documents, {executed} executed with data, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert executed > len(answers) // 4, "most documents never reached a resolver"
