"""Organization API keys: host apps calling kassa server to server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

from tortoise.transactions import in_transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kassa.models import ApiKey
from kassa.services import api_keys
from kassa.services.identity import OrgRole
from kassa.services.live_updates import announce_payment_updated
from tests.e2e.test_credit_spending import CONSUME, _paid_package
from tests.support import JSON, Kassa

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


async def test_a_revoked_key_ends_its_open_subscription_and_socket(kassa: Kassa) -> None:
    # given: a host app watching a payment over a websocket with its API key
    member = await kassa.member()
    topped = await kassa.top_up(member, "4.00", paymentMethodId="pm_card_visa")
    payment_id = topped["payment"]["id"]
    made = await api_keys.create(member.external_id, "watcher", OrgRole.MEMBER)
    url = str(kassa.http.base_url).replace("http", "ws") + "/graphql"
    subscription = "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }"
    async with connect(
        url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers={"Authorization": f"Bearer {made.secret}"},
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _receive(socket))["type"] == "connection_ack"
        await _subscribe(socket, "1", subscription, {"id": payment_id})
        first = await _receive(socket)

        # when: the key is revoked, then the payment changes, then a new operation comes
        await api_keys.revoke(made.key.id)
        async with in_transaction() as conn:
            await announce_payment_updated(conn, uuid.UUID(payment_id.removeprefix("pay_")))
        ended = await _until_finished(socket, "1")
        await _subscribe(socket, "2", subscription, {"id": payment_id})
        refused = await _until_finished(socket, "2")

    # then: the open stream ends and the new one never sends data
    assert first["payload"]["data"]["paymentUpdated"]["status"] == "SUCCEEDED"
    for messages in (ended, refused):
        assert all((m.get("payload") or {}).get("data") is None for m in messages), messages


async def _subscribe(socket: ClientConnection, key: str, query: str, variables: JSON) -> None:
    message = {"id": key, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    await socket.send(json.dumps(message))


async def _until_finished(socket: ClientConnection, key: str) -> list[JSON]:
    """The messages of operation `key` up to its `complete` or `error`."""
    messages = []
    while True:
        message = await _receive(socket)
        if message.get("id") == key:
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


async def _receive(socket: ClientConnection) -> JSON:
    message: JSON = json.loads(await asyncio.wait_for(socket.recv(), timeout=20))
    return message
