"""The Stripe event pipeline: order, unknown objects, retries, dead events, replay."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from kassa.models import OutboxMessage, Payment, StripeEvent
from kassa.services import outbox, stripe_events
from kassa.services.identity import OrgRole
from tests.support import Kassa, Member, payment_intent_event, wait_for_event

EVENTS = """
query Events($status: StripeEventStatus) {
  stripeEvents(status: $status, first: 100) { edges { node { id status attempts lastError } } }
}
"""
REPLAY = """
mutation Replay($id: String!) {
  replayStripeEvent(input: {eventId: $id}) {
    ... on StripeEventReplayed { event { id status } }
    ... on UserError { code message }
  }
}
"""


async def _intent(kassa: Kassa, member: Member, amount: str) -> tuple[str, str]:
    created = await kassa.top_up(member, amount, "usd")
    return created["payment"]["id"], created["payment"]["stripePaymentIntentId"]


async def test_canceled_then_stale_processing_stays_canceled(kassa: Kassa) -> None:
    member = await kassa.member()
    payment_id, intent_id = await _intent(kassa, member, "2.00")
    now = int(time.time())
    canceled = payment_intent_event(
        "payment_intent.canceled", intent_id, amount=200, status="canceled", created=now
    )
    stale = payment_intent_event(
        "payment_intent.processing", intent_id, amount=200, status="processing", created=now - 5
    )

    for event in (canceled, stale):
        await kassa.deliver_and_wait(event)

    assert (await kassa.payment(member, payment_id))["status"] == "CANCELED"


async def test_event_before_kassa_recorded_its_intent_converges(kassa: Kassa) -> None:
    # given: kassa created the intent but crashed before writing its id down
    member = await kassa.member()
    payment_id, intent_id = await _intent(kassa, member, "15.00")
    await Payment.filter(stripe_payment_intent_id=intent_id).update(stripe_payment_intent_id=None)
    event = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=1500, status="succeeded"
    )

    # when: Stripe's event arrives; kassa retries, then asks Stripe about the intent
    await kassa.deliver(event, kassa.sign(event))
    stored = await wait_for_event(json.loads(event)["id"], attempts=99)

    # then
    assert stored.status == "PROCESSED"
    assert (await kassa.payment(member, payment_id))["status"] == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "15.00"


async def test_event_for_an_intent_kassa_never_made_is_ignored(kassa: Kassa) -> None:
    foreign = await kassa.stripe.v1.payment_intents.create_async({"amount": 999, "currency": "usd"})
    event = payment_intent_event(
        "payment_intent.succeeded", foreign.id, amount=999, status="succeeded"
    )

    await kassa.deliver(event, kassa.sign(event))
    stored = await wait_for_event(json.loads(event)["id"], attempts=99)

    assert stored.status == "IGNORED"
    assert "not a payment kassa made" in (stored.last_error or "")


async def test_dead_event_is_replayed_by_a_platform_admin_once_fixable(kassa: Kassa) -> None:
    # given: an event that failed until it was given up
    member = await kassa.member()
    payment_id, intent_id = await _intent(kassa, member, "3.30")
    event = json.loads(
        payment_intent_event("payment_intent.succeeded", intent_id, amount=330, status="succeeded")
    )
    event["data"]["object"]["currency"] = "eur"  # disagrees with kassa's record
    payload = json.dumps(event)
    await kassa.deliver(payload, kassa.sign(payload))
    await wait_for_event(event["id"])
    for _ in range(2):
        await stripe_events.process(event["id"], max_attempts=2)
    assert (await StripeEvent.get(id=event["id"])).status == "DEAD"
    admin = kassa.token(None, platform_admin=True, sub="operator")
    listed = await kassa.gql(EVENTS, {"status": "DEAD"}, admin)
    assert event["id"] in [edge["node"]["id"] for edge in listed["data"]["stripeEvents"]["edges"]]

    # when: the operator corrects the record and replays
    await Payment.filter(id=payment_id.removeprefix("pay_")).update(currency="eur")
    replayed = await kassa.gql(REPLAY, {"id": event["id"]}, admin)
    stored = await wait_for_event(event["id"])

    # then
    assert replayed["data"]["replayStripeEvent"]["event"]["status"] == "PENDING"
    assert stored.status == "PROCESSED"
    assert (await kassa.wallet(member, "eur"))["balance"]["amount"] == "3.30"


async def test_replaying_an_applied_event_changes_nothing(kassa: Kassa) -> None:
    member = await kassa.member()
    _, intent_id = await _intent(kassa, member, "1.10")
    event = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=110, status="succeeded"
    )
    stored = await kassa.deliver_and_wait(event)
    admin = kassa.token(None, platform_admin=True, sub="operator")

    replayed = await kassa.gql(REPLAY, {"id": stored.id}, admin)

    assert replayed["data"]["replayStripeEvent"]["event"]["status"] == "PROCESSED"
    assert (await StripeEvent.get(id=stored.id)).attempts == stored.attempts
    assert (await kassa.wallet(member))["balance"]["amount"] == "1.10"


async def test_only_platform_admins_see_and_replay_events(kassa: Kassa) -> None:
    owner = await kassa.member(OrgRole.OWNER)

    listed = await kassa.gql(EVENTS, {}, owner.token)
    replayed = await kassa.gql(REPLAY, {"id": "evt_anything"}, owner.token)

    assert listed["data"] is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert replayed["data"]["replayStripeEvent"]["code"] == "FORBIDDEN"


async def test_event_stored_but_never_queued_is_swept_up(kassa: Kassa) -> None:
    # given: the process died between storing the event and queueing it
    member = await kassa.member()
    _, intent_id = await _intent(kassa, member, "4.40")
    payload = payment_intent_event(
        "payment_intent.succeeded", intent_id, amount=440, status="succeeded"
    )
    event = json.loads(payload)
    await StripeEvent.create(
        id=event["id"],
        type=event["type"],
        livemode=False,
        stripe_created=datetime.now(UTC),
        object_id=intent_id,
        payload=payload,
    )

    # then
    assert (await wait_for_event(event["id"])).status == "PROCESSED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "4.40"


async def test_outbox_message_is_written_once_and_sent_after_retries(kassa: Kassa) -> None:
    # given: a side effect that fails twice before it goes through
    calls: list[Mapping[str, object]] = []

    async def flaky_sender(payload: Mapping[str, object]) -> None:
        calls.append(payload)
        if len(calls) < 3:
            raise ConnectionError("the far side is down")

    outbox.register_sender("test.flaky", flaky_sender)

    # when: the same (event, kind) is written by three deliveries
    for _ in range(3):
        async with in_transaction() as conn:
            await outbox.add(conn, "test.flaky", "evt_outbox_test:test.flaky", {"n": 1})

    # then
    deadline = time.monotonic() + 15
    message = await OutboxMessage.get(dedupe_key="evt_outbox_test:test.flaky")
    while message.status == "PENDING" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        await message.refresh_from_db()
    assert message.status == "SENT"
    assert message.attempts == 2
    assert calls == [{"n": 1}] * 3
