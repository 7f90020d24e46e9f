"""The inbox of Stripe events: stored once by event id, applied exactly once.

Processing locks the event row, applies the effect and marks the event handled in one
transaction: concurrent or repeated deliveries of the same event serialize on that lock
and find it already handled.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from kassa.models import StripeEvent, StripeEventStatus
from kassa.services import payments
from kassa.services.stripe_gateway import VerifiedEvent, payment_intent_snapshot

log = logging.getLogger(__name__)

Handler = Callable[[BaseDBAsyncClient, StripeEvent, Mapping[str, object]], Awaitable["Outcome"]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an applied event touched; card details, if missing, are fetched after commit."""

    payment_id: uuid.UUID | None = None
    needs_card_details: bool = False


@dataclass(frozen=True, slots=True)
class Expectations:
    """Which Stripe mode and account this kassa accepts events from."""

    livemode: bool
    account: str | None = None

    def mismatch(self, event: VerifiedEvent) -> str | None:
        if event.livemode != self.livemode:
            return f"livemode={event.livemode} event, kassa runs livemode={self.livemode}"
        if self.account and event.account and event.account != self.account:
            return f"event for account {event.account}, kassa serves {self.account}"
        return None


async def receive(
    event: VerifiedEvent, payload: str, headers: dict[str, str], expected: Expectations
) -> StripeEvent:
    """Store a verified event (first delivery wins); later deliveries return the stored row."""
    mismatch = expected.mismatch(event)
    if mismatch:
        log.warning("ignoring Stripe event %s: %s", event.id, mismatch)
    stored, _ = await StripeEvent.get_or_create(
        id=event.id,
        defaults={
            "type": event.type,
            "livemode": event.livemode,
            "account": event.account,
            "api_version": event.api_version,
            "stripe_created": datetime.fromtimestamp(event.created, UTC),
            "object_id": _object_id(event.data_object),
            "payload": payload,
            "headers": headers,
            "status": StripeEventStatus.IGNORED if mismatch else StripeEventStatus.PENDING,
            "last_error": mismatch,
        },
    )
    return stored


def _object_id(data_object: Mapping[str, object]) -> str | None:
    value = data_object.get("id")
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Processed:
    """An event's status after processing, and a payment still missing its card details."""

    status: StripeEventStatus
    payment_without_card: uuid.UUID | None = None

    @property
    def needs_retry(self) -> bool:
        return self.status is StripeEventStatus.FAILED


UNHANDLED = (StripeEventStatus.PENDING, StripeEventStatus.FAILED)


async def process(event_id: str) -> Processed:
    """Apply one stored event if it is not handled yet: effect and mark in one transaction."""
    try:
        async with in_transaction() as conn:
            event = await StripeEvent.select_for_update().using_db(conn).get(id=event_id)
            if event.status not in UNHANDLED:
                return Processed(event.status)
            outcome = await _apply(conn, event)
            event.status = StripeEventStatus.PROCESSED if outcome else StripeEventStatus.IGNORED
            event.processed_at = datetime.now(UTC)
            event.attempts += 1
            event.last_error = None
            await event.save(using_db=conn)
    except Exception as exc:
        await _record_failure(event_id, exc)
        return Processed(StripeEventStatus.FAILED)
    needs_card = outcome is not None and outcome.needs_card_details
    return Processed(event.status, outcome.payment_id if outcome and needs_card else None)


async def _apply(conn: BaseDBAsyncClient, event: StripeEvent) -> Outcome | None:
    handler = HANDLERS.get(event.type)
    if handler is None:
        return None
    data_object = json.loads(event.payload)["data"]["object"]
    return await handler(conn, event, data_object)


async def _record_failure(event_id: str, exc: Exception) -> None:
    log.warning("Stripe event %s failed: %s", event_id, exc, exc_info=exc)
    # PostgreSQL text cannot hold NUL; an error quoting client bytes must still be recorded.
    error = f"{type(exc).__name__}: {exc}".replace("\x00", "\\0")[:2000]
    await StripeEvent.filter(id=event_id, status__in=UNHANDLED).update(
        status=StripeEventStatus.FAILED, attempts=F("attempts") + 1, last_error=error
    )


async def _payment_intent_changed(
    conn: BaseDBAsyncClient, event: StripeEvent, data_object: Mapping[str, object]
) -> Outcome:
    intent = payment_intent_snapshot(data_object)
    payment = await payments.payment_for_intent(conn, intent.id)
    await payments.apply_payment_intent(conn, payment, intent, event.stripe_created)
    return Outcome(payment.id, needs_card_details=payment.card_last4 is None)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _payment_intent_changed,
    "payment_intent.payment_failed": _payment_intent_changed,
    "payment_intent.canceled": _payment_intent_changed,
    "payment_intent.processing": _payment_intent_changed,
    "payment_intent.requires_action": _payment_intent_changed,
}
