"""Prepaid credit packages: the catalog and buying one (spending comes next)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kassa.models import CreditLot, CreditPackage, LedgerTransfer, Payment
from tests.support import JSON, VISA, Kassa, Member, assert_ledger_consistent

PACKAGES = "{ creditPackages { code name credits price { amount currency } unitPrice } }"
BUY = """
mutation Buy($input: BuyCreditsInput!) {
  buyCredits(input: $input) {
    ... on PaymentIntentCreated { clientSecret payment { id status stripePaymentIntentId } }
    ... on UserError { code message field }
  }
}
"""
CREDITS = """
query Credits($org: ID!) {
  organization(id: $org) { credits { balance lots { credits remaining expiresAt } } }
}
"""


async def _buy(kassa: Kassa, member: Member, code: str, **extra: str) -> JSON:
    body = await kassa.gql(
        BUY,
        {"input": {"organizationId": member.organization_id, "packageCode": code, **extra}},
        member.token,
    )
    result: JSON = body["data"]["buyCredits"]
    return result


async def test_default_catalog_with_exact_unit_prices(kassa: Kassa) -> None:
    body = await kassa.gql(PACKAGES)

    packages = {package["code"]: package for package in body["data"]["creditPackages"]}
    assert packages["trial"] == {
        "code": "trial",
        "name": "Trial",
        "credits": 500,
        "price": {"amount": "50.00", "currency": "cny"},
        "unitPrice": "0.10000000",
    }
    assert packages["standard"]["unitPrice"] == "0.09090909"
    assert packages["premium"]["credits"] == 13000


async def test_bought_package_fills_one_lot_from_the_applied_event(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    bought = await _buy(kassa, member, "standard", idempotencyKey="buy-1")
    assert bought["payment"]["status"] == "REQUIRES_PAYMENT_METHOD"
    assert await CreditLot.filter(organization__external_id=member.external_id).count() == 0

    # when: paid in the browser; Stripe's event settles it
    await kassa.confirm_with_card(bought["payment"]["stripePaymentIntentId"], VISA)
    payment = await kassa.wait_for_status(member, bought["payment"]["id"], "SUCCEEDED")

    # then
    assert payment["status"] == "SUCCEEDED"
    body = await kassa.gql(CREDITS, {"org": member.organization_id}, member.token)
    account = body["data"]["organization"]["credits"]
    assert account["balance"] == 1100
    [lot] = account["lots"]
    assert (lot["credits"], lot["remaining"]) == (1100, 1100)
    expires = datetime.fromisoformat(lot["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=182))) < timedelta(minutes=5)
    stored = await Payment.get(id=bought["payment"]["id"].removeprefix("pay_"))
    assert await LedgerTransfer.filter(payment=stored, kind="PURCHASE").count() == 1
    await assert_ledger_consistent()


async def test_inactive_or_unknown_packages_cannot_be_bought(kassa: Kassa) -> None:
    member = await kassa.member()
    await CreditPackage.create(
        code="retired", name="Retired", credits=10, price=100, currency="cny", active=False
    )

    for code in ("retired", "nonexistent"):
        result = await _buy(kassa, member, code)
        assert (result["code"], result["field"]) == ("NOT_FOUND", "packageCode")
