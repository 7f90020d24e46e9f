from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.services import jobs, stripe_events
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema.context import Context


def _require_platform_admin(context: Context) -> None:
    if not context.require_caller().is_platform_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "only platform admins see Stripe events")


async def events(
    context: Context, status: models.StripeEventStatus | None, first: int | None, after: str | None
) -> Page[models.StripeEvent]:
    _require_platform_admin(context)
    return await stripe_events.events_page(status, first, after)


async def replay(context: Context, event_id: str) -> models.StripeEvent:
    _require_platform_admin(context)
    queued = await stripe_events.replay([event_id])
    event = await stripe_events.find(event_id)
    if queued:
        await context.runtime.jobs.enqueue(jobs.STRIPE_EVENT, event_id)
    return event
