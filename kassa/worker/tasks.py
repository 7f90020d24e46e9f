"""What one job does; each delegates to a service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from kassa.models import StripeEventStatus
from kassa.services import deadline, orders, outbox, payments, refunds, saved_cards, stripe_events
from kassa.services.runtime import Runtime
from kassa.services.stripe_gateway import StripeFailure

log = logging.getLogger(__name__)

# An event for an intent kassa does not know is retried this often before kassa asks
# Stripe about the intent: usually the webhook merely overtook kassa's own write.
ASK_STRIPE_AFTER_ATTEMPTS = 3
ADOPTION_READ_SECONDS = 5.0


async def apply_stripe_event(runtime: Runtime, event_id: str) -> StripeEventStatus:
    settings = runtime.settings
    max_attempts = settings.event_max_attempts
    await stripe_events.read_card_first(event_id, runtime.gateway, settings.event_card_read_seconds)
    processed = await stripe_events.process(event_id, max_attempts)
    if processed.unknown_intent and processed.attempts >= ASK_STRIPE_AFTER_ATTEMPTS:
        processed = await resolve_with_stripe(runtime, event_id, processed.unknown_intent)
    return processed.status


def register_follow_ups(runtime: Runtime) -> None:
    """The outbox kinds events leave behind for reading Stripe, each with its reader."""
    gateway = runtime.gateway

    async def card_details(payload: Mapping[str, object]) -> None:
        await payments.fill_card_details(uuid.UUID(str(payload["payment"])), gateway)

    async def charge_refunds(payload: Mapping[str, object]) -> None:
        await refunds.sync_charge(str(payload["charge"]), gateway)

    async def saved_card(payload: Mapping[str, object]) -> None:
        customer = payload.get("customer")
        await saved_cards.save_from_stripe(
            str(payload["payment_method"]), customer if isinstance(customer, str) else None, gateway
        )

    async def refund_duplicate(payload: Mapping[str, object]) -> None:
        if runtime.settings.refund_duplicate_payments:
            await refunds.refund_duplicate(uuid.UUID(str(payload["payment"])), gateway)

    async def retire_attempts(payload: Mapping[str, object]) -> None:
        await orders.retire_once_paid(uuid.UUID(str(payload["order"])), gateway)

    outbox.register_sender(payments.REFUND_DUPLICATE, refund_duplicate)
    outbox.register_sender(payments.RETIRE_ATTEMPTS, retire_attempts)
    outbox.register_sender(stripe_events.READ_CARD_DETAILS, card_details)
    outbox.register_sender(stripe_events.READ_CHARGE_REFUNDS, charge_refunds)
    outbox.register_sender(stripe_events.READ_SAVED_CARD, saved_card)


async def resolve_with_stripe(
    runtime: Runtime, event_id: str, intent_id: str
) -> stripe_events.Processed:
    try:
        # In the event lane: a slow Stripe must not hold an event slot for long; the event
        # stays FAILED and is retried.
        with deadline.within(ADOPTION_READ_SECONDS):
            adoption = await payments.adopt_payment_intent(intent_id, runtime.gateway)
    except StripeFailure as exc:
        log.warning("could not read PaymentIntent %s from Stripe: %s", intent_id, exc)
        return stripe_events.Processed(StripeEventStatus.FAILED)
    if adoption is payments.Adoption.FOREIGN:
        await stripe_events.mark_ignored(event_id, f"{intent_id} is not a payment kassa made")
        return stripe_events.Processed(StripeEventStatus.IGNORED)
    if adoption is payments.Adoption.UNRESOLVED:
        # It names a kassa payment that does not match (yet): keep retrying, then DEAD.
        return stripe_events.Processed(StripeEventStatus.FAILED)
    return await stripe_events.process(event_id, runtime.settings.event_max_attempts)
