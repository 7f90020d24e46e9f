"""Workers apply stored events in batches: one transaction, a savepoint per event."""

from __future__ import annotations

import json
import uuid

from tortoise.transactions import in_transaction

from kassa.models import (
    LedgerAccount,
    LedgerTransfer,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    StripeEvent,
)
from kassa.services import ledger, stripe_events
from kassa.services.organizations import provision
from tests.support import Kassa, assert_ledger_consistent, payment_intent_event

BATCH = 50


async def _payments(count: int) -> tuple[uuid.UUID, list[Payment]]:
    organization = await provision(f"batch-{uuid.uuid4().hex[:10]}")
    made = [
        await Payment.create(
            organization=organization,
            purpose=PaymentPurpose.WALLET_TOP_UP,
            status=PaymentStatus.REQUIRES_PAYMENT_METHOD,
            amount=100 + number,
            currency="usd",
            stripe_payment_intent_id=f"pi_batch_{uuid.uuid4().hex[:16]}",
        )
        for number in range(count)
    ]
    return organization.id, made


async def _store_and_apply_at_once(payloads: list[str]) -> stripe_events.Batch:
    """Store the events and apply them as one batch, in a transaction around both: no
    worker sees them before (they are not committed) or after (they are handled)."""
    async with in_transaction() as conn:
        for payload in payloads:
            event = json.loads(payload)
            await conn.execute_query(
                "INSERT INTO stripe_events (id, type, livemode, stripe_created, object_id, "
                "payload, headers, status, attempts, received_at) "
                "VALUES ($1, $2, false, now(), $3, $4, '{}', 'PENDING', 0, clock_timestamp())",
                [event["id"], event["type"], event["data"]["object"].get("id"), payload],
            )
        ids = [json.loads(payload)["id"] for payload in payloads]
        return await stripe_events.apply_batch(len(payloads), max_attempts=12, only=ids)


async def test_one_poisoned_event_in_a_batch_of_fifty_dies_alone(kassa: Kassa) -> None:
    # given: 49 good payment_intent.succeeded events and, in their midst, one that cannot
    # be read (its PaymentIntent has no id), stored together
    organization_id, payments = await _payments(BATCH)
    payloads = [
        payment_intent_event(
            "payment_intent.succeeded",
            str(payment.stripe_payment_intent_id),
            amount=payment.amount,
            status="succeeded",
        )
        for payment in payments
    ]
    poisoned = json.loads(payloads[BATCH // 2])
    del poisoned["data"]["object"]["id"]
    payloads[BATCH // 2] = json.dumps(poisoned)
    event_ids = [json.loads(payload)["id"] for payload in payloads]

    # when
    batch = await _store_and_apply_at_once(payloads)

    # then: the poisoned event is dead after one attempt, the 49 others applied once
    assert len(batch.processed) == BATCH
    events = {event.id: event for event in await StripeEvent.filter(id__in=event_ids)}
    dead = events.pop(poisoned["id"])
    assert (dead.status, dead.attempts) == ("DEAD", 1)
    assert dead.last_error is not None and dead.last_error.startswith("KeyError")
    assert {(event.status, event.attempts) for event in events.values()} == {("PROCESSED", 1)}
    good = [payment for number, payment in enumerate(payments) if number != BATCH // 2]
    assert await Payment.filter(
        id__in=[payment.id for payment in good], status=PaymentStatus.SUCCEEDED
    ).count() == len(good)
    transfers = await LedgerTransfer.filter(payment_id__in=[payment.id for payment in payments])
    assert sorted(transfer.payment_id for transfer in transfers) == sorted(  # type: ignore[attr-defined]
        payment.id for payment in good
    )
    wallet = await LedgerAccount.get(key=ledger.wallet_account(organization_id, "usd").key)
    assert wallet.balance == sum(payment.amount for payment in good)
    # the batch moved the balances at its end; each transfer still shows the wallet's balance
    # right after it, as if applied one by one
    running = 0
    for after, amount in sorted((t.credit_balance_after, t.amount) for t in transfers):
        running += amount
        assert after == running
    await assert_ledger_consistent()
