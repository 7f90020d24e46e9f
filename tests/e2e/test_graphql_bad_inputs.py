"""What a client can send to /graphql that must end in a clear error and change nothing."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from tortoise.transactions import in_transaction

from kassa.models import Order, Organization, Payment, Refund
from kassa.services import credit_lots, ledger, organizations
from tests.support import JSON, Kassa, Member

PAYMENTS_AFTER = """
query Payments($id: ID!, $after: String) {
  organization(id: $id) { payments(after: $after) { edges { node { id } } } }
}
"""


async def test_deeply_nested_json_is_400_or_413(kassa: Kassa) -> None:
    # 30,000 levels fit under the body cap and reach the JSON parser; 100,000 do not.
    for depth, status in ((30_000, 400), (100_000, 413)):
        body = "[" * depth + "]" * depth
        response = await kassa.http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status


async def test_body_over_the_cap_is_413(kassa: Kassa) -> None:
    query = "{ viewer { userId } }" + " " * (kassa.settings.graphql_max_body_bytes + 1)
    response = await kassa.http.post("/graphql", json={"query": query})
    assert response.status_code == 413


async def test_amount_literal_of_5000_digits_is_invalid_amount(kassa: Kassa) -> None:
    member = await kassa.member()
    mutation = (
        f'mutation {{ topUpWallet(input: {{organizationId: "{member.organization_id}", '
        f'amount: {"9" * 5000}, currency: "usd"}}) {{ ... on UserError {{ code }} }} }}'
    )

    body = await kassa.gql(mutation, token=member.token)

    assert body == {"data": {"topUpWallet": {"code": "INVALID_AMOUNT"}}}
    assert await Payment.filter(organization__external_id=member.external_id).count() == 0


async def test_cursor_beyond_the_calendar_is_a_clear_error(kassa: Kassa) -> None:
    member = await kassa.member()
    cursor = base64.urlsafe_b64encode(
        b"9999-12-31T23:59:59-14:00|00000000-0000-0000-0000-000000000000"
    ).decode()

    body = await kassa.gql(
        PAYMENTS_AFTER, {"id": member.organization_id, "after": cursor}, member.token
    )

    assert body["errors"][0]["message"] == "after is not a valid cursor"
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


# Lists read through the models, of rows with uuid ids.
MODEL_LISTS = {
    "orders": "orders(after: $after) { edges { cursor } }",
    "invoices": "invoices(after: $after) { edges { cursor } }",
    "credits": "credits { transactions(after: $after) { edges { cursor } } }",
}


async def test_a_cursor_naming_no_uuid_is_a_clear_error_on_every_list(kassa: Kassa) -> None:
    # given: an organization whose credit account exists (an unused one answers no rows)
    member = await kassa.member()
    organization = await organizations.provision(member.external_id)
    async with in_transaction() as conn:
        await ledger.account_id(conn, credit_lots.credits_account(organization.id))
    moment = "2026-01-01T00:00:00+00:00"
    for row_id in ("not-a-uuid", "1" * 200):
        cursor = base64.urlsafe_b64encode(f"{moment}|{row_id}".encode()).decode()
        for name, selection in MODEL_LISTS.items():
            query = "query($org: ID!, $after: String) { organization(id: $org) { "
            query += selection + " } }"

            # when
            body = await kassa.gql(
                query, {"org": member.organization_id, "after": cursor}, member.token
            )

            # then: INVALID_INPUT, not "Internal error"
            assert body["errors"][0]["message"] == "after is not a valid cursor", (name, body)
            assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}


async def test_first_is_capped_and_negative_first_refused(kassa: Kassa) -> None:
    member = await kassa.member()
    query = "query($id: ID!, $first: Int) { organization(id: $id) { payments(first: $first) "
    query += "{ edges { cursor } } } }"

    capped = await kassa.gql(query, {"id": member.organization_id, "first": 99999999}, member.token)
    negative = await kassa.gql(query, {"id": member.organization_id, "first": -1}, member.token)

    assert capped == {"data": {"organization": {"payments": {"edges": []}}}}
    assert negative["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_signed_token_with_malformed_claims_is_401(kassa: Kassa) -> None:
    secret = kassa.settings.jwt_secret
    assert secret
    now = int(time.time())
    base = {"sub": "u", "iss": "kassa", "aud": "kassa", "exp": now + 60}
    for claims in (
        {**base, "org_id": "acme-list-role", "org_role": ["owner"]},
        {**base, "org_id": "x" * 201, "org_role": "owner"},
        {**base, "org_id": "nul\x00org", "org_role": "owner"},
    ):
        token = jwt.encode(claims, secret, algorithm="HS256")
        response = await kassa.http.post(
            "/graphql",
            json={"query": "{ viewer { organizations { role } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, claims
    assert not await Organization.exists(external_id="acme-list-role")


NUL = "a\x00b"
ANSWER = "{ __typename ... on UserError { code field } }"


def _mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {ANSWER} }}"


# Text inputs PostgreSQL cannot store (a NUL; an email over its 320-character column), most
# of them internal errors before; `$org` and `$payment` are filled in per test.
NUL_INPUTS: dict[str, tuple[str, JSON]] = {
    "refund-reason": (
        _mutation("refundPayment", "RefundPaymentInput"),
        {"input": {"paymentId": "$payment", "amount": "1.00", "reason": NUL}},
    ),
    "host-url": (
        _mutation("setHostNotifications", "SetHostNotificationsInput"),
        {"input": {"organizationId": "$org", "url": f"https://{NUL}.test/hook"}},
    ),
    "package-code": (
        _mutation("buyCredits", "BuyCreditsInput"),
        {"input": {"organizationId": "$org", "packageCode": NUL}},
    ),
    "checkout-package": (
        _mutation("startCheckout", "StartCheckoutInput"),
        {
            "input": {
                "organizationId": "$org",
                "creditPackage": NUL,
                "successUrl": "https://shop.test/s",
                "cancelUrl": "https://shop.test/c",
            }
        },
    ),
    "refund-reason-literal": (
        'mutation($p: ID!) { refundPayment(input: {paymentId: $p, amount: "1.00", '
        f'reason: "a\\u0000b"}}) {ANSWER} }}',
        {"p": "$payment"},
    ),
    "order-reference": (
        _mutation("createOrder", "CreateOrderInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "5.00",
                "currency": "usd",
                "reference": NUL,
            }
        },
    ),
    "order-description": (
        _mutation("createOrder", "CreateOrderInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "5.00",
                "currency": "usd",
                "description": NUL,
            }
        },
    ),
    "order-customer-email": (
        _mutation("createOrder", "CreateOrderInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "5.00",
                "currency": "usd",
                "customerEmail": f"{NUL}@example.test",
            }
        },
    ),
    "order-notify-email": (
        _mutation("createOrder", "CreateOrderInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "5.00",
                "currency": "usd",
                "notifyEmails": [f"{NUL}@example.test"],
            }
        },
    ),
    "order-long-email": (
        _mutation("createOrder", "CreateOrderInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "5.00",
                "currency": "usd",
                "customerEmail": "x" * 64 + "@" + "y" * 251 + ".test",
            }
        },
    ),
    "debit-key": (
        _mutation("debitWallet", "DebitWalletInput"),
        {
            "input": {
                "organizationId": "$org",
                "amount": "1.00",
                "currency": "usd",
                "reason": "r",
                "idempotencyKey": NUL,
            }
        },
    ),
    "consume-reason": (
        _mutation("consumeCredits", "ConsumeCreditsInput"),
        {"input": {"organizationId": "$org", "credits": 1, "reason": NUL, "idempotencyKey": "k"}},
    ),
    "checkout-url": (
        _mutation("startCheckout", "StartCheckoutInput"),
        {
            "input": {
                "organizationId": "$org",
                "creditPackage": "trial",
                "successUrl": f"https://shop.test/{NUL}",
                "cancelUrl": "https://shop.test/c",
            }
        },
    ),
}


def _filled(value: object, fills: dict[str, str]) -> object:
    if isinstance(value, dict):
        return {key: _filled(inner, fills) for key, inner in value.items()}
    return fills.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("case", list(NUL_INPUTS))
async def test_unstorable_text_input_is_invalid_input_and_changes_nothing(
    kassa: Kassa, paid_top_up: tuple[Member, str], case: str
) -> None:
    member, payment_id = paid_top_up
    document, variables = NUL_INPUTS[case]
    before = await _row_counts()

    body = await kassa.gql(
        document,
        _filled(variables, {"$org": member.organization_id, "$payment": payment_id}),  # type: ignore[arg-type]
        member.token,
    )

    assert "errors" not in body, body
    (answer,) = body["data"].values()
    assert answer["code"] == "INVALID_INPUT", answer
    assert await _row_counts() == before


async def test_a_nul_in_a_looked_up_id_is_a_clear_answer(
    kassa: Kassa, paid_top_up: tuple[Member, str]
) -> None:
    member, _ = paid_top_up
    admin = kassa.token(None, platform_admin=True, sub="operator")

    session = await kassa.gql(
        "query($id: String!) { checkoutStatus(sessionId: $id) { status } }",
        {"id": f"cs_{NUL}"},
        member.token,
    )
    replayed = await kassa.gql(
        _mutation("replayStripeEvent", "ReplayStripeEventInput"),
        {"input": {"eventId": f"evt_{NUL}"}},
        admin,
    )

    assert session == {"data": {"checkoutStatus": None}}
    assert replayed["data"]["replayStripeEvent"] == {
        "__typename": "UserError",
        "code": "INVALID_INPUT",
        "field": "eventId",
    }


async def _row_counts() -> list[int]:
    return [
        await Payment.all().count(),
        await Order.all().count(),
        await Refund.all().count(),
        await Organization.filter(notify_url__isnull=False).count(),
    ]


@pytest.fixture(scope="module")
async def paid_top_up(kassa: Kassa) -> tuple[Member, str]:
    member = await kassa.member()
    topped = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")
    assert topped["payment"]["status"] == "SUCCEEDED", topped
    return member, topped["payment"]["id"]
