"""One Stripe call about a payment (or a refund) at a time, with nothing held while it runs.

Creating or confirming a PaymentIntent twice must not happen when two requests for the same
payment arrive together (a double click, a retried request, ten tabs). A lock held across
the Stripe call would tie up a pooled connection for as long as Stripe takes; instead the
first request stamps the payment row with how long it may talk to Stripe, commits, calls,
and clears the stamp. The others poll the row (short statements, no connection kept) until
the stamp is gone, then find the intent already there. A process that dies mid-call leaves a
stamp that simply runs out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from kassa.models import CreditSubscription, Payment, Refund
from kassa.services import deadline
from kassa.services.errors import DomainError, ErrorCode

# Longer than one Stripe call may take with its retries: a stamp outliving its call
# only makes others wait; one that ran out during it would let a second call start.
CLAIM = timedelta(seconds=120)
# Outside a request's deadline (background jobs), how long to wait for another's call.
LONGEST_WAIT_SECONDS = 30.0
FIRST_POLL_SECONDS = 0.02
LONGEST_POLL_SECONDS = 0.25


# What has a `stripe_call_until` column.
Claimable = type[Payment] | type[Refund] | type[CreditSubscription]


@asynccontextmanager
async def one_at_a_time(object_id: uuid.UUID, model: Claimable = Payment) -> AsyncIterator[None]:
    left = deadline.remaining()
    wait = LONGEST_WAIT_SECONDS if left is None else left
    stamp = await _claim_when_free(model, object_id, wait)
    try:
        yield
    finally:
        await _give_back(model, object_id, stamp)


@asynccontextmanager
async def if_free(object_id: uuid.UUID, model: Claimable) -> AsyncIterator[bool]:
    """True inside when nobody else is calling Stripe about it (and now nobody will)."""
    stamp = await _claim(model, object_id)
    try:
        yield stamp is not None
    finally:
        if stamp is not None:
            await _give_back(model, object_id, stamp)


async def _give_back(model: Claimable, object_id: uuid.UUID, stamp: datetime) -> None:
    await model.filter(id=object_id, stripe_call_until=stamp).update(stripe_call_until=None)


async def _claim_when_free(model: Claimable, object_id: uuid.UUID, wait_seconds: float) -> datetime:
    give_up_at = time.monotonic() + wait_seconds
    pause = FIRST_POLL_SECONDS
    while True:
        stamp = await _claim(model, object_id)
        if stamp is not None:
            return stamp
        if time.monotonic() >= give_up_at:
            raise DomainError(
                ErrorCode.PAYMENT_OUTCOME_UNKNOWN,
                "another request about this payment is still waiting for Stripe; read the "
                "payment or retry shortly",
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_POLL_SECONDS)


async def _claim(model: Claimable, object_id: uuid.UUID) -> datetime | None:
    now = datetime.now(UTC)
    stamp = now + CLAIM
    claimed = await model.filter(
        Q(stripe_call_until__isnull=True) | Q(stripe_call_until__lt=now), id=object_id
    ).update(stripe_call_until=stamp)
    return stamp if claimed else None
