"""Who may see and do what: tokens, organizations, and another tenant's ids."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from kassa.models import Organization, Payment
from kassa.services.identity import OrgRole
from tests.support import VISA, Kassa, Member

ORGANIZATION = """
query Organization($id: ID!) {
  organization(id: $id) { id name wallet(currency: "usd") { balance { amount } } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"
PAYMENTS = """
query Payments($id: ID!) { organization(id: $id) { payments { edges { node { id } } } } }
"""
VIEWER = "{ viewer { userId roles organizations { role organization { id name } } } }"


async def _paid_top_up(kassa: Kassa, member: Member) -> str:
    created = await kassa.top_up(member, "30.00")
    await kassa.confirm_with_card(created["payment"]["stripePaymentIntentId"], VISA)
    await kassa.wait_for_status(member, created["payment"]["id"], "SUCCEEDED")
    payment_id: str = created["payment"]["id"]
    return payment_id


async def test_member_of_a_sees_nothing_of_b(kassa: Kassa) -> None:
    # given
    a = await kassa.member(OrgRole.MEMBER)
    b = await kassa.member(OrgRole.OWNER)
    b_payment = await _paid_top_up(kassa, b)

    # when / then
    for query, variables in [
        (ORGANIZATION, {"id": b.organization_id}),
        (PAYMENTS, {"id": b.organization_id}),
    ]:
        body = await kassa.gql(query, variables, a.token)
        assert body == {"data": {"organization": None}}
    assert await kassa.gql(NODE, {"id": b.organization_id}, a.token) == {"data": {"node": None}}
    assert await kassa.gql(NODE, {"id": b_payment}, a.token) == {"data": {"node": None}}
    assert await kassa.payment(a, b_payment) is None
    assert await kassa.payment(b, b_payment) is not None


async def test_top_up_into_another_organization_is_not_found(kassa: Kassa) -> None:
    a = await kassa.member(OrgRole.OWNER)
    b = await kassa.member(OrgRole.OWNER)
    intruder = Member(a.token, b.organization_id, a.external_id)

    result = await kassa.top_up(intruder, "10.00")

    assert result == {
        "__typename": "UserError",
        "code": "NOT_FOUND",
        "message": "organization not found",
        "field": "organizationId",
    }
    assert await Payment.filter(organization__external_id=b.external_id).count() == 0


async def test_platform_admin_sees_every_organization(kassa: Kassa) -> None:
    b = await kassa.member(OrgRole.OWNER)
    admin = kassa.token(None, platform_admin=True, sub="operator")

    body = await kassa.gql(ORGANIZATION, {"id": b.organization_id}, admin)

    assert body["data"]["organization"]["id"] == b.organization_id


async def test_viewer_shows_the_tokens_organization_and_role(kassa: Kassa) -> None:
    token = kassa.token("acme-viewer", OrgRole.ADMIN, sub="ada")

    body = await kassa.gql(VIEWER, token=token)

    viewer = body["data"]["viewer"]
    assert viewer["userId"] == "ada"
    assert viewer["organizations"][0]["role"] == "admin"
    assert viewer["organizations"][0]["organization"]["name"] == "acme-viewer"
    assert await Organization.filter(external_id="acme-viewer").count() == 1


async def test_viewer_without_a_token_is_401_like_a_bad_token(kassa: Kassa) -> None:
    response = await kassa.http.post("/graphql", json={"query": VIEWER})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("authentication required")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_public_queries_need_no_token(kassa: Kassa) -> None:
    response = await kassa.http.post(
        "/graphql", json={"query": "{ creditPackages { code credits } }"}
    )

    assert response.status_code == 200
    assert response.json()["data"]["creditPackages"]


STATS = "query Stats($id: ID!) { organization(id: $id) { paymentStats { byStatus { count } } } }"


async def test_expected_client_errors_log_one_line_without_a_traceback(
    kassa: Kassa, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a member (statistics are for owners and admins)
    member = await kassa.member(OrgRole.MEMBER)

    # when: no token, and a field the role may not read
    with caplog.at_level(logging.INFO):
        await kassa.http.post("/graphql", json={"query": VIEWER})
        forbidden = await kassa.gql(STATS, {"id": member.organization_id}, member.token)

    # then
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    client_errors = [r for r in caplog.records if "UNAUTHENTICATED" in r.getMessage()]
    client_errors += [r for r in caplog.records if "FORBIDDEN" in r.getMessage()]
    assert len(client_errors) == 2, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in client_errors)
    assert not [r for r in caplog.records if r.name == "strawberry.execution"]


async def test_ids_of_the_wrong_kind_or_shape_find_nothing(kassa: Kassa) -> None:
    member = await kassa.member()
    for bogus in ["", "org_", "pay_" + "0" * 32, member.organization_id.replace("org_", "pay_")]:
        body = await kassa.gql(ORGANIZATION, {"id": bogus}, member.token)
        assert body == {"data": {"organization": None}}


def _claims(kassa: Kassa, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "mallory",
        "iss": kassa.settings.jwt_issuer,
        "aud": kassa.settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "org_id": "victim-org",
        "org_role": "owner",
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _bad_tokens(kassa: Kassa) -> dict[str, str]:
    secret = kassa.settings.jwt_secret
    assert secret
    now = int(time.time())
    return {
        "alg-none": jwt.encode(_claims(kassa), "", algorithm="none"),
        "expired": jwt.encode(_claims(kassa, exp=now - 60), secret, algorithm="HS256"),
        "not-yet-valid": jwt.encode(_claims(kassa, nbf=now + 3600), secret, algorithm="HS256"),
        "no-exp": jwt.encode(_claims(kassa, exp=None), secret, algorithm="HS256"),
        "wrong-aud": jwt.encode(_claims(kassa, aud="someone-else"), secret, algorithm="HS256"),
        "wrong-iss": jwt.encode(_claims(kassa, iss="https://evil"), secret, algorithm="HS256"),
        "bad-signature": jwt.encode(_claims(kassa), "not-the-secret-" * 3, algorithm="HS256"),
        "hs512": jwt.encode(_claims(kassa), secret, algorithm="HS512"),
        "unknown-role": jwt.encode(_claims(kassa, org_role="god"), secret, algorithm="HS256"),
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg-none",
        "expired",
        "not-yet-valid",
        "no-exp",
        "wrong-aud",
        "wrong-iss",
        "bad-signature",
        "hs512",
        "unknown-role",
        "garbage",
    ],
)
async def test_unacceptable_token_is_401_and_provisions_nothing(kassa: Kassa, case: str) -> None:
    token = _bad_tokens(kassa)[case]

    response = await kassa.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.text
    assert not await Organization.exists(external_id="victim-org")


async def test_authorization_header_without_bearer_is_401(kassa: Kassa) -> None:
    response = await kassa.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert response.status_code == 401
