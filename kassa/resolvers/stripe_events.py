from __future__ import annotations

from kassa import models
from kassa.resolvers.connections import connection
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import jobs, stripe_events
from kassa.services.errors import DomainError, ErrorCode


def _require_platform_admin(info: gql.Info) -> None:
    if not info.context.require_caller().is_platform_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "only platform admins see Stripe events")


async def events(
    info: gql.Info, status: models.StripeEventStatus | None, first: int | None, after: str | None
) -> gql.Connection[gql.StripeEvent]:
    try:
        _require_platform_admin(info)
        page = await stripe_events.events_page(status, first, after)
    except DomainError as exc:
        raise query_error(exc) from exc
    return connection(page, gql.StripeEvent.of)


async def replay(info: gql.Info, event_id: str) -> gql.StripeEventReplayed | UserError:
    try:
        _require_platform_admin(info)
        queued = await stripe_events.replay([event_id])
        event = await stripe_events.find(event_id)
    except DomainError as exc:
        return UserError.of(exc)
    if queued:
        await info.context.runtime.jobs.enqueue(jobs.STRIPE_EVENT, event_id)
    return gql.StripeEventReplayed(event=gql.StripeEvent.of(event))
