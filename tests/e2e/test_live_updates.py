"""`paymentUpdated` over graphql-transport-ws, fed across processes by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kassa.db import asyncpg_dsn
from kassa.services.identity import OrgRole, issue_dev_token
from tests.cluster import (
    JWT_SECRET,
    Cluster,
    create_payments,
    new_database,
    post_all,
    remove_database,
    succeeded_events,
)
from tests.support import Kassa

SUBSCRIPTION = "subscription($id: ID!) { paymentUpdated(paymentId: $id) { id status } }"


@pytest.fixture
async def cluster(database_server_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster(await new_database(database_server_url), logs=tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()
        await remove_database(cluster.database_url)


def _token(org: str) -> str:
    return issue_dev_token(
        secret=JWT_SECRET,
        issuer="kassa",
        audience="kassa",
        org_id=org,
        role=OrgRole.MEMBER,
        subject="watcher",
        now=int(time.time()),
    )


async def _payment(url: str, intent_id: str) -> tuple[str, str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT p.id, o.external_id FROM payments p JOIN organizations o "
            "ON o.id = p.organization_id WHERE p.stripe_payment_intent_id = $1",
            intent_id,
        )
        assert row is not None
        return f"pay_{uuid.UUID(str(row['id'])).hex}", str(row["external_id"])
    finally:
        await conn.close()


async def _subscribe(
    cluster: Cluster, token: str, payment_id: str, query: str = SUBSCRIPTION
) -> ClientConnection:
    socket = await connect(
        cluster.base_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": query, "variables": {"id": payment_id}},
            }
        )
    )
    return socket


async def _next(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=20))
    return message


async def test_change_applied_by_a_worker_process_reaches_the_subscriber(
    cluster: Cluster,
) -> None:
    # given: a subscriber on the server process; workers run in their own process
    payments = await create_payments(cluster.database_url, 1, organizations=1)
    payment_id, organization = await _payment(cluster.database_url, payments[0][0])
    await cluster.start(workers=1)
    socket = await _subscribe(cluster, _token(organization), payment_id)
    try:
        first = await _next(socket)

        # when
        await post_all(cluster.base_url, succeeded_events(payments), concurrency=1)
        second = await _next(socket)
    finally:
        await socket.close()

    # then
    assert first["payload"]["data"]["paymentUpdated"]["status"] == "REQUIRES_PAYMENT_METHOD"
    assert second["payload"]["data"]["paymentUpdated"] == {"id": payment_id, "status": "SUCCEEDED"}


async def test_each_update_reads_the_payments_invoice_as_it_is_then(cluster: Cluster) -> None:
    # given: a subscriber shown the payment with its invoice while it has none yet
    payments = await create_payments(cluster.database_url, 1, organizations=1)
    payment_id, organization = await _payment(cluster.database_url, payments[0][0])
    await cluster.start(workers=1)
    query = "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status invoice { id } } }"
    socket = await _subscribe(cluster, _token(organization), payment_id, query)
    try:
        first = await _next(socket)

        # when: the payment succeeds, which issues its invoice
        await post_all(cluster.base_url, succeeded_events(payments), concurrency=1)
        second = await _next(socket)
    finally:
        await socket.close()

    # then: the update shows the invoice (not the "none" the first update read)
    assert first["payload"]["data"]["paymentUpdated"] == {
        "status": "REQUIRES_PAYMENT_METHOD",
        "invoice": None,
    }
    updated = second["payload"]["data"]["paymentUpdated"]
    assert updated["status"] == "SUCCEEDED"
    assert updated["invoice"] is not None, second


async def test_another_organization_cannot_subscribe(cluster: Cluster) -> None:
    payments = await create_payments(cluster.database_url, 1, organizations=1)
    payment_id, _ = await _payment(cluster.database_url, payments[0][0])
    await cluster.start(workers=0)

    socket = await _subscribe(cluster, _token("someone-else"), payment_id)
    try:
        answer = await _next(socket)
    finally:
        await socket.close()

    assert answer["type"] == "error" or answer["payload"].get("errors")
    assert "not found" in json.dumps(answer)
    assert "REQUIRES_PAYMENT_METHOD" not in json.dumps(answer)


async def test_a_subscription_posted_over_http_is_a_clear_error(kassa: Kassa) -> None:
    member = await kassa.member()
    top_up = await kassa.top_up(member, "3.00")

    body = await kassa.gql(
        "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }",
        {"id": top_up["payment"]["id"]},
        member.token,
    )

    assert body["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET", body
