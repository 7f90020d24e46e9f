"""Signed notifications to the host app, checked with the snippet README documents."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassa.models import Organization
from kassa.services.host_notifications import HostNotifier
from kassa.services.identity import OrgRole
from tests.e2e.test_orders import _create, _pay
from tests.support import Kassa

README = Path(__file__).resolve().parents[2] / "README.md"
CONFIGURE = """
mutation Configure($input: SetHostNotificationsInput!) {
  setHostNotifications(input: $input) {
    ... on HostNotificationsConfigured { url signingSecret }
    ... on UserError { code field }
  }
}
"""

Received = list[tuple[bytes, str]]


def documented_verify() -> Callable[[bytes, str, str], bool]:
    """The verification snippet exactly as README shows it to host developers."""
    text = README.read_text()
    block = re.search(r"<!-- host-notification-verify -->\n```python\n(.*?)```", text, re.S)
    assert block is not None, "README lost its verification snippet"
    assert len(block.group(1).strip().splitlines()) == 5
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    verify: Callable[[bytes, str, str], bool] = namespace["verify"]
    return verify


@pytest.fixture
async def host_app() -> AsyncIterator[tuple[str, Received]]:
    received: Received = []

    async def receive(request: Request) -> Response:
        received.append((await request.body(), request.headers.get("kassa-signature", "")))
        return Response(status_code=204)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/kassa", receive, methods=["POST"])]))
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/kassa", received
    server.should_exit = True
    await serving
    sock.close()


async def _wait_for(received: Received, kind: str, status: str) -> dict[str, Any]:
    for _ in range(300):
        for body, _ in received:
            message = json.loads(body)
            if message["type"] == kind and message["data"]["status"] == status:
                found: dict[str, Any] = message
                return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} {status} among {len(received)} notifications")


async def test_host_hears_of_a_paid_order_and_can_verify_it(
    kassa: Kassa, host_app: tuple[str, Received]
) -> None:
    # given
    url, received = host_app
    member = await kassa.member()
    configured = await kassa.gql(
        CONFIGURE, {"input": {"organizationId": member.organization_id, "url": url}}, member.token
    )
    secret = configured["data"]["setHostNotifications"]["signingSecret"]
    created = await _create(kassa, member, reference="ticket-42", amount="30.00", currency="usd")

    # when
    paid = await _pay(kassa, member, created["order"]["id"], paymentMethodId="pm_card_visa")
    order_paid = await _wait_for(received, "order.updated", "PAID")
    payment_paid = await _wait_for(received, "payment.updated", "SUCCEEDED")

    # then
    assert order_paid["data"] == {
        "id": created["order"]["id"],
        "reference": "ticket-42",
        "status": "PAID",
    }
    assert payment_paid["data"]["id"] == paid["payment"]["id"]
    assert payment_paid["data"]["order"] == created["order"]["id"]
    verify = documented_verify()
    assert all(verify(body, header, secret) for body, header in received)
    body, header = received[0]
    assert not verify(body.replace(b"PAID", b"FAKE") + b" ", header, secret)
    assert not verify(body, header, "kassa_whsec_wrong")


async def test_only_owners_and_admins_set_the_url(kassa: Kassa) -> None:
    owner = await kassa.member(OrgRole.OWNER)
    member_token = kassa.token(owner.external_id, OrgRole.MEMBER, sub="intern")
    variables = {"input": {"organizationId": owner.organization_id, "url": "https://x.test/k"}}

    by_member = await kassa.gql(CONFIGURE, variables, member_token)
    bad_url = await kassa.gql(
        CONFIGURE,
        {"input": {"organizationId": owner.organization_id, "url": "file:///etc/passwd"}},
        owner.token,
    )

    assert by_member["data"]["setHostNotifications"]["code"] == "FORBIDDEN"
    assert bad_url["data"]["setHostNotifications"] == {"code": "INVALID_INPUT", "field": "url"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
    ],
)
async def test_production_refuses_addresses_inside_the_network(url: str) -> None:
    # Only resolves the name (IP literals and localhost resolve locally); connects to nothing.
    with pytest.raises(PermissionError, match="inside the network"):
        await HostNotifier(allow_private_addresses=False)._check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 of 169.254.169.254
        "http://[64:ff9b:1::a01:203]/hook",  # local-use NAT64
        "http://[2002:a01:203::1]/hook",  # 6to4 of 10.1.2.3
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:f5fe:fdfc]/hook",  # Teredo client 10.1.2.3
        "http://[::ffff:192.168.1.1]/hook",  # IPv4-mapped
        "http://[::10.1.2.3]/hook",  # IPv4-compatible
    ],
)
async def test_production_refuses_internal_ipv4_inside_ipv6(url: str) -> None:
    with pytest.raises(PermissionError, match="inside the network"):
        await HostNotifier(allow_private_addresses=False)._check(url)


async def test_production_allows_a_public_ipv4_inside_nat64() -> None:
    await HostNotifier(allow_private_addresses=False)._check("http://[64:ff9b::808:808]/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://a b/",
        "http://hooks.example:99999/",
        "http://hooks.example:0/",
        "http://[::1/",
        "https://hooks\x00.example/",
        "http://999.1.1.1/",
        "http://-hooks-.example/",
        "http://hooks..example/",
        "https://hooks.example/\x7fk",
    ],
)
async def test_urls_that_can_never_work_are_refused_and_nothing_is_kept(
    kassa: Kassa, url: str
) -> None:
    owner = await kassa.member()

    body = await kassa.gql(
        CONFIGURE, {"input": {"organizationId": owner.organization_id, "url": url}}, owner.token
    )

    assert body["data"]["setHostNotifications"] == {"code": "INVALID_INPUT", "field": "url"}
    organization = await Organization.get(external_id=owner.external_id)
    assert organization.notify_url is None
    assert organization.notify_secret is None


@pytest.mark.parametrize(
    "url",
    ["https://bücher.example/kassa", "http://[2001:db8::1]:8080/k", "https://h_1.example:443/"],
)
async def test_usable_urls_are_kept(kassa: Kassa, url: str) -> None:
    owner = await kassa.member()

    body = await kassa.gql(
        CONFIGURE, {"input": {"organizationId": owner.organization_id, "url": url}}, owner.token
    )

    assert body["data"]["setHostNotifications"]["url"] == url
