"""Mutations over their allowance: HTTP 429 with Retry-After, nothing written.

Each test builds its own kassa app with small limits on the session's database (the
session's server runs without limits, as every test shares 127.0.0.1) and talks to it
in-process; the `postgres` backend is shown shared by two such apps, as by two processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx

from kassa.app import create_app
from kassa.config import Settings
from kassa.models import Order
from tests.e2e.test_orders import CREATE_ORDER
from tests.support import JSON, Kassa, Member


@asynccontextmanager
async def _app(
    settings: Settings, database_url: str, **limits: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.with_overrides(**limits), database_url)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        yield client


async def _fresh_window() -> None:
    """Start well inside a minute, so that no test straddles two windows."""
    second = datetime.now(UTC).second
    if second > 45:
        await asyncio.sleep(60.5 - second)


async def _create_order(
    client: httpx.AsyncClient, member: Member, headers: dict[str, str] | None = None
) -> httpx.Response:
    variables: JSON = {
        "input": {
            "organizationId": member.organization_id,
            "amount": "5.00",
            "currency": "eur",
            "reference": uuid.uuid4().hex,
        }
    }
    return await client.post(
        "/graphql",
        json={"query": CREATE_ORDER, "variables": variables},
        headers={"Authorization": f"Bearer {member.token}", **(headers or {})},
    )


async def _orders(member: Member) -> int:
    return await Order.filter(organization__external_id=member.external_id).count()


async def test_a_caller_over_its_allowance_gets_429_and_writes_nothing(
    kassa: Kassa, settings: Settings, database_url: str
) -> None:
    # given: three mutations a minute per caller
    member, other = await kassa.member(), await kassa.member()
    await _fresh_window()
    async with _app(settings, database_url, rate_limit_per_caller=3) as client:
        # when
        answers = [await _create_order(client, member) for _ in range(4)]
        query = await client.post(
            "/graphql",
            json={"query": "{ viewer { userId } }"},
            headers={"Authorization": f"Bearer {member.token}"},
        )
        others = await _create_order(client, other)

    # then
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    [error] = limited.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert await _orders(member) == 3
    assert query.status_code == 200  # queries are not counted
    assert others.status_code == 200  # nor are other callers' mutations


async def test_the_address_allowance_counts_the_client_behind_a_trusted_proxy(
    kassa: Kassa, settings: Settings, database_url: str
) -> None:
    members = [await kassa.member() for _ in range(3)]
    await _fresh_window()
    limits = {"rate_limit_per_address": 2, "trusted_proxy_hops": 1}
    async with _app(settings, database_url, **limits) as client:
        first = [
            await _create_order(client, member, {"X-Forwarded-For": "spoofed, 198.51.100.7"})
            for member in members
        ]
        elsewhere = await _create_order(client, members[0], {"X-Forwarded-For": "198.51.100.8"})

    assert [answer.status_code for answer in first] == [200, 200, 429]
    assert elsewhere.status_code == 200


async def test_the_postgres_allowance_is_shared_by_every_process(
    kassa: Kassa, settings: Settings, database_url: str
) -> None:
    member = await kassa.member()
    await _fresh_window()
    limits = {"rate_limit_per_caller": 3, "rate_limit_backend": "postgres"}
    async with (
        _app(settings, database_url, **limits) as one,
        _app(settings, database_url, **limits) as two,
    ):
        answers = [await _create_order(client, member) for client in (one, two, one, two)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert await _orders(member) == 3


async def test_aliases_do_not_multiply_the_allowance(
    kassa: Kassa, settings: Settings, database_url: str
) -> None:
    member = await kassa.member()
    await _fresh_window()
    order = (
        '{alias}: createOrder(input: {{organizationId: "{org}", amount: "1.00", '
        'currency: "eur", reference: "{alias}"}}) {{ __typename }}'
    )
    document = (
        "mutation { "
        + " ".join(order.format(alias=f"o{n}", org=member.organization_id) for n in range(4))
        + " }"
    )
    async with _app(settings, database_url, rate_limit_per_caller=3) as client:
        answer = await client.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {member.token}"},
        )

    assert answer.status_code == 429
    assert await _orders(member) == 0


async def test_a_long_token_subject_is_counted_not_a_crash(
    kassa: Kassa, settings: Settings, database_url: str
) -> None:
    member = await kassa.member()
    long_subject = Member(
        kassa.token(member.external_id, sub="s" * 255), member.organization_id, member.external_id
    )
    await _fresh_window()
    limits = {"rate_limit_per_caller": 5, "rate_limit_backend": "postgres"}
    async with _app(settings, database_url, **limits) as client:
        answer = await _create_order(client, long_subject)

    assert answer.status_code == 200
    assert "errors" not in answer.json(), answer.text
