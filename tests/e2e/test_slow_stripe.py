"""Stripe slow to answer what the worker asks in the background: real `kassa serve` and
`kassa worker` processes on a database of their own, the local Stripe server behind a proxy
that holds the requests a test chooses. Applying events never waits for them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from kassa.db import asyncpg_dsn
from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.services import host_notifications, jobs, mail, payments, stripe_events
from tests.cluster import Cluster, new_database, post_all, remove_database
from tests.stripe_proxy import Fault, Mode, StripeProxy
from tests.support import VISA, payment_intent_event

# Longer than the test takes: the held reads are all still in flight when the event comes.
SLOW_READ_SECONDS = 25.0
# More slow follow-ups than any worker has job slots.
SLOW_FOLLOW_UPS = 12
# How soon a webhook's event must be applied while Stripe is slow: kassa waits at most
# KASSA_EVENT_CARD_READ_SECONDS (1 s) for the card, then applies it without.
APPLIED_WITHIN_SECONDS = 3.0
# A due retry is queued by the next sweep (every 0.5 s here) after its 1 s backoff.
RETRY_APPLIED_WITHIN_SECONDS = 5.0
BOUND_SECONDS = 20.0


@pytest.fixture
def slow_stripe(local_stripe: LocalStripe) -> Iterator[StripeProxy]:
    proxy = StripeProxy(local_stripe.api_base).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def cluster(
    database_server_url: str, tmp_path: Path, slow_stripe: StripeProxy
) -> AsyncIterator[Cluster]:
    cluster = Cluster(
        await new_database(database_server_url),
        logs=tmp_path,
        overrides={"STRIPE_API_BASE": slow_stripe.api_base},
    )
    try:
        yield cluster
    finally:
        slow_stripe.release()  # the held requests finish, so the worker stops at once
        cluster.stop()
        await remove_database(cluster.database_url)


async def test_a_webhook_is_applied_while_every_stripe_follow_up_waits_on_slow_stripe(
    cluster: Cluster, slow_stripe: StripeProxy, local_stripe: LocalStripe
) -> None:
    # given: payments whose card is still to be read, each with its follow-up due, and a
    # payment waiting for its webhook; Stripe holds every payment method read for 25 s
    slow_stripe.add(
        Fault("/v1/payment_methods/", Mode.LATENCY, method="GET", seconds=SLOW_READ_SECONDS)
    )
    methods = await _card_payment_methods(local_stripe, SLOW_FOLLOW_UPS + 1)
    db = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        organization = await _organization(db)
        for method in methods[:SLOW_FOLLOW_UPS]:
            await _card_to_read(db, organization, method)
        intent_id = f"pi_slow_{uuid.uuid4().hex[:16]}"
        payment_id = await _awaiting_webhook(db, organization, intent_id)
        await cluster.start(workers=1)

        async def follow_ups_at_stripe() -> bool:
            return slow_stripe.held >= 4

        await _until(follow_ups_at_stripe, "the follow-ups to reach Stripe")
        await asyncio.sleep(1.0)  # every slot the follow-ups can take is taken by now
        held_reads = slow_stripe.held

        # when: Stripe's webhook says the payment succeeded, naming its payment method
        event = json.loads(
            payment_intent_event(
                "payment_intent.succeeded", intent_id, amount=2500, status="succeeded"
            )
        )
        event["data"]["object"]["payment_method"] = methods[-1]
        started = time.monotonic()
        assert await post_all(cluster.base_url, [json.dumps(event)], concurrency=1) == [200]
        status = await _status_within(db, payment_id, "SUCCEEDED", APPLIED_WITHIN_SECONDS)
        applied_after = time.monotonic() - started

        # then: it is applied at once, while the slow reads are still in flight
        assert status == "SUCCEEDED", f"not applied within {APPLIED_WITHIN_SECONDS} s"
        assert applied_after < APPLIED_WITHIN_SECONDS
        assert slow_stripe.held >= held_reads
        assert await _wallet_total(db) == 2500

        # and: once Stripe answers again, every card is read, the webhook's payment's too
        slow_stripe.release()

        async def every_card_read() -> bool:
            return await _cards_missing(db) == 0

        await _until(every_card_read, "every card to be read")
    finally:
        await db.close()


async def test_an_events_retry_is_queued_while_stripe_hangs_on_refunds_sent_again(
    cluster: Cluster, slow_stripe: StripeProxy
) -> None:
    # given: refunds Stripe never answered, which the worker sends again, and Stripe now
    # hanging on every refund request
    slow_stripe.add(Fault("/v1/refunds", Mode.HANG, method="POST"))
    db = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        organization = await _organization(db)
        await _unsent_refunds(db, organization, count=3)
        await cluster.start(workers=1)

        async def refund_at_stripe() -> bool:
            return slow_stripe.held >= 1

        await _until(refund_at_stripe, "a refund to be sent again")
        # and: a webhook that overtook kassa's own write of its payment, so it fails once
        intent_id = f"pi_early_{uuid.uuid4().hex[:16]}"
        payload = payment_intent_event(
            "payment_intent.succeeded", intent_id, amount=1800, status="succeeded"
        )
        assert await post_all(cluster.base_url, [payload], concurrency=1) == [200]

        async def failed_once() -> bool:
            attempts = await db.fetchval(
                "SELECT attempts FROM stripe_events WHERE id = $1", json.loads(payload)["id"]
            )
            return bool(attempts)

        await _until(failed_once, "the event's first attempt")

        # when: kassa's write of the payment lands
        payment_id = await _awaiting_webhook(db, organization, intent_id, amount=1800)

        # then: the event's retry (due after 1 s) applies it, while Stripe still hangs
        status = await _status_within(db, payment_id, "SUCCEEDED", RETRY_APPLIED_WITHIN_SECONDS)
        assert status == "SUCCEEDED", f"retry not applied within {RETRY_APPLIED_WITHIN_SECONDS} s"
        assert slow_stripe.held >= 1
    finally:
        await db.close()


def test_outbox_kinds_that_call_stripe_wait_in_their_own_lane() -> None:
    calling_stripe = [
        stripe_events.READ_CARD_DETAILS,
        stripe_events.READ_CHARGE_REFUNDS,
        stripe_events.READ_SAVED_CARD,
        payments.REFUND_DUPLICATE,
        payments.RETIRE_ATTEMPTS,
    ]
    messages = [mail.MAIL, mail.ADMIN_ALERT, host_notifications.HOST_NOTIFICATION]

    assert {jobs.outbox_entrypoint(kind) for kind in calling_stripe} == {jobs.OUTBOX_STRIPE}
    assert {jobs.outbox_entrypoint(kind) for kind in messages} == {jobs.OUTBOX_MESSAGE}


async def _card_payment_methods(local_stripe: LocalStripe, count: int) -> list[str]:
    """Card payment methods made at the local Stripe server itself, past the proxy."""
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    card = {"type": "card", "card[number]": VISA, "card[exp_month]": "12"}
    card |= {"card[exp_year]": "2034", "card[cvc]": "123"}
    async with httpx.AsyncClient(base_url=local_stripe.api_base, headers=headers) as stripe:
        answers = [await stripe.post("/v1/payment_methods", data=card) for _ in range(count)]
    return [answer.raise_for_status().json()["id"] for answer in answers]


async def _organization(db: asyncpg.Connection) -> uuid.UUID:
    organization = uuid.uuid4()
    await db.execute(
        "INSERT INTO organizations (id, external_id, name, created_at) VALUES ($1, $2, $2, now())",
        organization,
        f"slow-stripe-{organization.hex[:8]}",
    )
    return organization


async def _card_to_read(db: asyncpg.Connection, organization: uuid.UUID, method: str) -> None:
    """A succeeded payment whose event named its payment method but not its card, and the
    follow-up that reads the card (as applying such an event leaves behind)."""
    payment = uuid.uuid4()
    await db.execute(
        "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
        "amount_refunded, stripe_payment_intent_id, stripe_payment_method_id, created_at, "
        "updated_at) VALUES ($1, $2, 'WALLET_TOP_UP', 'SUCCEEDED', 1000, 'usd', 0, $3, $4, "
        "now(), now())",
        payment,
        organization,
        f"pi_read_{payment.hex[:16]}",
        method,
    )
    kind = stripe_events.READ_CARD_DETAILS
    await db.execute(
        "INSERT INTO outbox_messages (id, kind, dedupe_key, payload, status, attempts, "
        "next_attempt_at, created_at) VALUES ($1, $2, $3, $4::jsonb, 'PENDING', 0, now(), now())",
        uuid.uuid4(),
        kind,
        f"{kind}:{payment}",
        json.dumps({"payment": str(payment)}),
    )


async def _awaiting_webhook(
    db: asyncpg.Connection, organization: uuid.UUID, intent: str, amount: int = 2500
) -> uuid.UUID:
    payment = uuid.uuid4()
    await db.execute(
        "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
        "amount_refunded, stripe_payment_intent_id, created_at, updated_at) "
        "VALUES ($1, $2, 'WALLET_TOP_UP', 'REQUIRES_CONFIRMATION', $4, 'usd', 0, $3, "
        "now(), now())",
        payment,
        organization,
        intent,
        amount,
    )
    return payment


async def _unsent_refunds(db: asyncpg.Connection, organization: uuid.UUID, count: int) -> None:
    """Refunds of a paid payment that kassa reserved an hour ago and Stripe never answered."""
    payment = uuid.uuid4()
    await db.execute(
        "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
        "amount_refunded, stripe_payment_intent_id, created_at, updated_at) "
        "VALUES ($1, $2, 'WALLET_TOP_UP', 'SUCCEEDED', 9000, 'usd', 0, $3, now(), now())",
        payment,
        organization,
        f"pi_refunded_{payment.hex[:16]}",
    )
    for _ in range(count):
        await db.execute(
            "INSERT INTO refunds (id, payment_id, amount, currency, status, created_at, "
            "updated_at) VALUES ($1, $2, 1000, 'usd', 'PENDING', now() - interval '1 hour', "
            "now() - interval '1 hour')",
            uuid.uuid4(),
            payment,
        )


async def _status_within(
    db: asyncpg.Connection, payment: uuid.UUID, wanted: str, seconds: float
) -> str:
    deadline = time.monotonic() + seconds
    while True:
        status = str(await db.fetchval("SELECT status FROM payments WHERE id = $1", payment))
        if status == wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {BOUND_SECONDS} s for {what}")
        await asyncio.sleep(0.05)


async def _wallet_total(db: asyncpg.Connection) -> int:
    total = await db.fetchval(
        "SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind = 'wallet'"
    )
    return int(total)


async def _cards_missing(db: asyncpg.Connection) -> int:
    missing = await db.fetchval("SELECT count(*) FROM payments WHERE card_last4 IS NULL")
    return int(missing)
