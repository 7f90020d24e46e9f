"""Stripe slow, silent, failing, or acting and then never answering: real `kassa serve` and
`kassa worker` processes on a database of their own, the local Stripe server behind the
test's proxy. kassa answers within its deadline, says "unknown" rather than "failed" when it
cannot know, keeps serving everyone else meanwhile, and settles by itself afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from kassa.db import asyncpg_dsn
from kassa.demo.local_stripe import LocalStripe
from kassa.services.identity import OrgRole, issue_dev_token
from tests.cluster import JWT_SECRET, WEBHOOK_SECRET, Cluster, new_database, remove_database
from tests.stripe_proxy import Fault, Mode, StripeProxy
from tests.support import ORGANIZATION_ID_QUERY, TOP_UP

DEADLINE_SECONDS = 2.0
# One registration, overwritten by each test: the local server keeps webhooks for the session.
WEBHOOK_NAME = "fault-cluster"
CONFIRM = Fault("/v1/payment_intents/", Mode.HANG, method="POST", suffix="/confirm")
REFUND = """
mutation Refund($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    __typename
    ... on RefundCreated { refund { id status } payment { amountRefunded { amount } } }
    ... on UserError { code message field }
  }
}
"""
WALLET = """
query Wallet($org: ID!) { organization(id: $org) { wallet(currency: "usd") {
  balance { amount } } } }
"""


@pytest.fixture
def stripe(local_stripe: LocalStripe) -> Iterator[StripeProxy]:
    proxy = StripeProxy(local_stripe.api_base).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def cluster(
    database_server_url: str, tmp_path: Path, stripe: StripeProxy, local_stripe: LocalStripe
) -> AsyncIterator[Cluster]:
    cluster = Cluster(
        await new_database(database_server_url),
        logs=tmp_path,
        overrides={
            "STRIPE_API_BASE": stripe.api_base,
            "KASSA_REQUEST_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
            # The local server ignores idempotency keys, so a retry of a confirm Stripe did
            # make would be refused there; real Stripe would replay its answer.
            "KASSA_STRIPE_MAX_NETWORK_RETRIES": "0",
        },
    )
    try:
        await cluster.start(workers=1)
        url = f"{cluster.base_url}/webhooks/stripe"
        local_stripe.register_webhook(url, WEBHOOK_SECRET, name=WEBHOOK_NAME)
        yield cluster
    finally:
        stripe.release()
        cluster.stop()
        await remove_database(cluster.database_url)


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str, organization_id: str) -> None:
        self.http, self.token, self.organization_id = http, token, organization_id

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def top_up(self, amount: str, **extra: Any) -> dict[str, Any]:
        variables = {"input": {"organizationId": self.organization_id, "amount": amount}}
        variables["input"] |= {"currency": "usd", **extra}
        answer: dict[str, Any] = (await self.gql(TOP_UP, variables))["topUpWallet"]
        return answer


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    token = issue_dev_token(
        secret=JWT_SECRET,
        issuer="kassa",
        audience="kassa",
        org_id=f"faults-{uuid.uuid4().hex[:8]}",
        role=OrgRole.OWNER,
        subject="owner",
        platform_admin=True,
        now=int(time.time()),
    )
    async with httpx.AsyncClient(base_url=cluster.base_url, timeout=60) as http:
        viewer = Client(http, token, "")
        orgs = (await viewer.gql(ORGANIZATION_ID_QUERY, {}))["viewer"]["organizations"]
        yield Client(http, token, orgs[0]["organization"]["id"])


async def test_a_confirm_stripe_made_but_never_answered_is_unknown_then_settles(
    cluster: Cluster, stripe: StripeProxy, client: Client
) -> None:
    # given: Stripe confirms (the card is charged) and the answer is lost on the way back
    stripe.add(Fault("/v1/payment_intents/", Mode.DROP_ANSWER, method="POST", suffix="/confirm"))

    # when
    answer = await client.top_up("10.00", paymentMethodId="pm_card_visa", idempotencyKey="t-1")

    # then: not a failure; the payment is not FAILED, and Stripe's webhook settles it
    assert answer["code"] == "PAYMENT_OUTCOME_UNKNOWN", answer
    db = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        status = await db.fetchval("SELECT status FROM payments")
        assert status != "FAILED"
        await _until(lambda: _value(db, "SELECT status FROM payments"), "SUCCEEDED")
    finally:
        await db.close()
    stripe.release()
    again = await client.top_up("10.00", paymentMethodId="pm_card_visa", idempotencyKey="t-1")
    assert again["payment"]["status"] == "SUCCEEDED", again
    assert await _balance(client) == "10.00"


async def test_a_create_whose_answer_was_lost_is_not_failed_and_the_same_key_goes_on(
    cluster: Cluster, stripe: StripeProxy, client: Client
) -> None:
    # given: Stripe makes the intent and the answer is lost
    stripe.add(Fault("/v1/payment_intents", Mode.DROP_ANSWER, method="POST", exact=True))

    # when
    answer = await client.top_up("7.00", idempotencyKey="create-1")

    # then: unknown, not FAILED; the same key afterwards gives a payable intent
    assert answer["code"] == "PAYMENT_OUTCOME_UNKNOWN", answer
    db = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        assert await db.fetchval("SELECT status FROM payments") == "REQUIRES_PAYMENT_METHOD"
    finally:
        await db.close()
    stripe.release()
    again = await client.top_up("7.00", idempotencyKey="create-1")
    assert again["__typename"] == "PaymentIntentCreated", again
    assert again["clientSecret"]


async def test_a_hanging_stripe_answers_within_the_deadline_and_starves_nobody(
    cluster: Cluster, stripe: StripeProxy, client: Client
) -> None:
    # given: Stripe never answers a confirm
    stripe.add(CONFIRM)

    # when: eight top-ups with a card at once, and a wallet read and /readyz meanwhile
    started = time.monotonic()
    top_ups = asyncio.gather(
        *(client.top_up("5.00", paymentMethodId="pm_card_visa") for _ in range(8))
    )
    await _until_held(stripe, 8)
    read_started = time.monotonic()
    await _balance(client)
    ready = await client.http.get("/readyz")
    read_took = time.monotonic() - read_started
    answers = await top_ups
    answered_after = time.monotonic() - started

    # then
    assert {a["code"] for a in answers} == {"PAYMENT_OUTCOME_UNKNOWN"}, answers
    assert answered_after < DEADLINE_SECONDS + 3
    assert ready.status_code == 200
    assert read_took < 1.0, f"an unrelated read took {read_took:.2f} s while Stripe hung"
    print(
        f"8 top-ups with Stripe hanging: answered in {answered_after:.2f} s; "
        f"wallet + /readyz meanwhile {read_took * 1000:.0f} ms"
    )


async def test_a_refund_stripe_answered_502_is_sent_again_until_final(
    cluster: Cluster, stripe: StripeProxy, client: Client
) -> None:
    # given: a paid 10.00 top-up, and Stripe failing refunds with 502
    paid = await client.top_up("10.00", paymentMethodId="pm_card_visa")
    assert paid["payment"]["status"] == "SUCCEEDED", paid
    stripe.add(Fault("/v1/refunds", Mode.ERROR, method="POST", status=502))

    # when: a refund without an idempotency key
    variables = {"input": {"paymentId": paid["payment"]["id"], "amount": "4.00"}}
    refused = (await client.gql(REFUND, variables))["refundPayment"]

    # then: unknown, never asking for a key the caller did not send; the worker settles it
    assert refused["code"] == "PAYMENT_OUTCOME_UNKNOWN", refused
    assert "idempotencyKey" not in refused["message"]
    stripe.release()
    db = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        query = "SELECT status FROM refunds WHERE stripe_refund_id IS NOT NULL"
        await _until(lambda: _value(db, query), "SUCCEEDED", seconds=30)
    finally:
        await db.close()
    assert await _balance(client) == "6.00"
    rest = await client.gql(REFUND, {"input": {"paymentId": paid["payment"]["id"]}})
    assert rest["refundPayment"]["payment"]["amountRefunded"]["amount"] == "10.00", rest


async def _balance(client: Client) -> str:
    wallet = await client.gql(WALLET, {"org": client.organization_id})
    balance: str = wallet["organization"]["wallet"]["balance"]["amount"]
    return balance


async def _value(db: asyncpg.Connection, query: str) -> object:
    return await db.fetchval(query)


async def _until(
    read: Callable[[], Awaitable[object]], expected: object, seconds: float = 15.0
) -> None:
    deadline = time.monotonic() + seconds
    while (value := await read()) != expected:
        assert time.monotonic() < deadline, f"still {value!r}, waited for {expected!r}"
        await asyncio.sleep(0.1)


async def _until_held(stripe: StripeProxy, count: int) -> None:
    deadline = time.monotonic() + 10
    while stripe.held < count:
        assert time.monotonic() < deadline, f"only {stripe.held} requests reached Stripe"
        await asyncio.sleep(0.02)
