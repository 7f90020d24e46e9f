"""Organization API keys: host apps calling kassa server to server."""

from __future__ import annotations

import hashlib

from kassa.models import ApiKey
from kassa.services import api_keys
from kassa.services.identity import OrgRole
from tests.e2e.test_credit_spending import CONSUME, _paid_package
from tests.support import Kassa

VIEWER = "{ viewer { userId organizations { role organization { id } } } }"


async def test_a_key_acts_for_its_organization_only(kassa: Kassa) -> None:
    # given: credits bought by an owner, a key made for the host app
    member, stranger = await kassa.member(), await kassa.member()
    await _paid_package(kassa, member, "trial")
    made = await api_keys.create(member.external_id, "render farm", OrgRole.MEMBER)

    # when
    viewer = await kassa.gql(VIEWER, token=made.secret)
    consumed = await kassa.gql(
        CONSUME,
        {
            "input": {
                "organizationId": member.organization_id,
                "credits": 120,
                "reason": "render",
                "idempotencyKey": "farm-1",
            }
        },
        made.secret,
    )
    foreign = await kassa.gql(
        "query($id: ID!) { organization(id: $id) { id } }",
        {"id": stranger.organization_id},
        made.secret,
    )

    # then
    assert viewer["data"]["viewer"]["userId"] == f"apikey:{made.key.id}"
    [membership] = viewer["data"]["viewer"]["organizations"]
    assert membership == {"role": "member", "organization": {"id": member.organization_id}}
    assert consumed["data"]["consumeCredits"]["balance"] == 380
    assert foreign["data"]["organization"] is None


async def test_only_the_hash_is_kept_and_a_revoked_key_is_401(kassa: Kassa) -> None:
    member = await kassa.member()
    made = await api_keys.create(member.external_id, "ci", OrgRole.ADMIN)

    stored = await ApiKey.get(id=made.key.id)
    assert stored.secret_sha256 == hashlib.sha256(made.secret.encode()).hexdigest()
    assert made.secret not in str(await ApiKey.filter(id=made.key.id).values())
    assert made.secret.startswith(stored.prefix)

    caller = await api_keys.caller_for(made.secret)
    assert await api_keys.still_valid(caller)
    assert await api_keys.revoke(made.key.id)
    # what an open websocket checks before each operation
    assert not await api_keys.still_valid(caller)
    response = await kassa.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {made.secret}"}
    )
    unknown = await kassa.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": "Bearer kassa_sk_" + "A" * 43},
    )

    assert (response.status_code, unknown.status_code) == (401, 401)
    assert "unknown or revoked API key" in response.text
