"""Amounts a client may send that kassa must refuse before any Stripe call."""

from __future__ import annotations

import pytest

from kassa.models import Organization, Payment
from tests.support import TOP_UP, Kassa

INVALID = [
    ("0", "usd"),
    ("-1", "usd"),
    ("12.345", "usd"),
    ("12.5", "jpy"),
    ("5.125", "kwd"),
    ("1000000.00", "usd"),  # 100,000,000 minor units: 9 digits
    ("100000000", "jpy"),
    ("1e3", "usd"),
    ("NaN", "usd"),
    ("Infinity", "usd"),
    ("", "usd"),
    ("12,50", "eur"),
]


@pytest.mark.parametrize(("amount", "currency"), INVALID)
async def test_invalid_amount_is_refused_without_calling_stripe(
    kassa: Kassa, amount: str, currency: str
) -> None:
    # given: a fresh organization, so "no Stripe customer yet" proves no Stripe call
    member = await kassa.member()

    # when
    result = await kassa.top_up(member, amount, currency)

    # then
    assert result["__typename"] == "UserError"
    assert result["code"] == "INVALID_AMOUNT"
    assert result["field"] == "amount"
    assert currency.upper() in result["message"] or "amount" in result["message"].lower()
    organization = await Organization.get(external_id=member.external_id)
    assert organization.stripe_customer_id is None
    assert await Payment.filter(organization=organization).count() == 0


async def test_unknown_currency_is_refused(kassa: Kassa) -> None:
    member = await kassa.member()

    result = await kassa.top_up(member, "10.00", "xyz")

    assert result["code"] == "UNSUPPORTED_CURRENCY"
    assert result["field"] == "currency"


async def test_amount_as_a_json_number_is_a_clear_error(kassa: Kassa) -> None:
    member = await kassa.member()
    variables = {
        "input": {"organizationId": member.organization_id, "amount": 12.5, "currency": "usd"}
    }

    body = await kassa.gql(TOP_UP, variables, member.token)

    assert body["data"] is None
    assert "strings" in body["errors"][0]["message"]
    assert await Payment.filter(organization__external_id=member.external_id).count() == 0
