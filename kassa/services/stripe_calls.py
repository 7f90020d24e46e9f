"""One Stripe call about a payment at a time, with nothing held while it runs.

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

from kassa.models import Payment
from kassa.services import deadline
from kassa.services.errors import DomainError, ErrorCode

# Longer than one Stripe call may take with its retries: a stamp outliving its call
# only makes others wait; one that ran out during it would let a second call start.
CLAIM = timedelta(seconds=120)
# Outside a request's deadline (background jobs), how long to wait for another's call.
LONGEST_WAIT_SECONDS = 30.0
FIRST_POLL_SECONDS = 0.02
LONGEST_POLL_SECONDS = 0.25


@asynccontextmanager
async def one_at_a_time(payment_id: uuid.UUID) -> AsyncIterator[None]:
    left = deadline.remaining()
    stamp = await _claim_when_free(payment_id, LONGEST_WAIT_SECONDS if left is None else left)
    try:
        yield
    finally:
        await Payment.filter(id=payment_id, stripe_call_until=stamp).update(stripe_call_until=None)


async def _claim_when_free(payment_id: uuid.UUID, wait_seconds: float) -> datetime:
    give_up_at = time.monotonic() + wait_seconds
    pause = FIRST_POLL_SECONDS
    while True:
        stamp = await _claim(payment_id)
        if stamp is not None:
            return stamp
        if time.monotonic() >= give_up_at:
            raise DomainError(
                ErrorCode.PAYMENT_OUTCOME_UNKNOWN,
                "another request for this payment is still waiting for Stripe; read the "
                "payment or retry shortly",
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_POLL_SECONDS)


async def _claim(payment_id: uuid.UUID) -> datetime | None:
    now = datetime.now(UTC)
    stamp = now + CLAIM
    claimed = await Payment.filter(
        Q(stripe_call_until__isnull=True) | Q(stripe_call_until__lt=now), id=payment_id
    ).update(stripe_call_until=stamp)
    return stamp if claimed else None
