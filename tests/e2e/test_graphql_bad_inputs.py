"""What a client can send to /graphql that must end in a clear error and change nothing."""

from __future__ import annotations

import base64
import time

import jwt

from kassa.models import Organization, Payment
from tests.support import Kassa

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
