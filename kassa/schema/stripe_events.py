"""The Stripe event inbox as platform admins see it, and replaying an event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from kassa import models
from kassa.resolvers import stripe_events as stripe_event_resolvers
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.relay import After, Connection, First

describe_enum(
    models.StripeEventStatus,
    "Where a received Stripe event stands in kassa's inbox",
    {
        "PENDING": "Stored and queued, not applied yet",
        "PROCESSED": "Applied",
        "IGNORED": "Stored without effect: a type kassa does not handle, another mode or "
        "account, an object that is not kassa's, or an event refused (lastError says why)",
        "FAILED": "Applying it failed; retried with backoff at nextAttemptAt",
        "DEAD": "Given up after the last retry (lastError says why); replayStripeEvent retries",
    },
)


def _created(event: strawberry.Parent[models.StripeEvent]) -> datetime:
    return event.stripe_created


@strawberry.type(description="A Stripe webhook event as kassa received and applied it")
class StripeEvent:
    """Shown over the `models.StripeEvent` row itself."""

    id: str = strawberry.field(description="Stripe's event id (evt_…)")
    type: str = strawberry.field(description="Stripe's event type: payment_intent.succeeded …")
    status: models.StripeEventStatus = strawberry.field(description="Where it stands in kassa")
    livemode: bool = strawberry.field(description="Sent by Stripe's live mode (else test mode)")
    object_id: str | None = strawberry.field(
        description="The id of the Stripe object it is about (pi_…, re_…, cs_…)"
    )
    attempts: int = strawberry.field(description="How often kassa tried to apply it")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed, or why it was ignored"
    )
    created: datetime = strawberry.field(
        resolver=_created, description="Stripe's time of the event"
    )
    received_at: datetime = strawberry.field(description="When kassa's webhook stored it")
    processed_at: datetime | None = strawberry.field(description="When it was applied")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next retry is due; null when none is"
    )


@strawberry.type(description="replayStripeEvent put the event back in line")
class StripeEventReplayed:
    event: models.StripeEvent = strawberry.field(
        graphql_type=StripeEvent,
        description="The event: PENDING when queued again, unchanged when already applied",
    )


StripeEventResult = Annotated[
    StripeEventReplayed | UserError,
    strawberry.union(
        "StripeEventResult",
        description="What replayStripeEvent answers: StripeEventReplayed, or a UserError",
    ),
]


@strawberry.input(description="A stored Stripe event to apply again")
class ReplayStripeEventInput:
    event_id: str = strawberry.field(description="Stripe's event id (evt_…)")


@strawberry.type
class StripeEventQuery:
    @strawberry.field(
        description="The Stripe event inbox, newest first; platform admins only (FORBIDDEN)",
        graphql_type=Connection[StripeEvent],
    )
    async def stripe_events(
        self,
        info: Info,
        status: Annotated[
            models.StripeEventStatus | None,
            strawberry.argument(description="Only events in this status; all when omitted"),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[models.StripeEvent]:
        page = await stripe_event_resolvers.events(info.context, status, first, after)
        return Connection.of(page)


@strawberry.type
class StripeEventMutation:
    @strawberry.mutation(
        description="Apply a failed or dead event again; platform admins only. Errors: FORBIDDEN, "
        "NOT_FOUND"
    )
    async def replay_stripe_event(
        self,
        info: Info,
        input: Annotated[ReplayStripeEventInput, strawberry.argument(description="The event")],
    ) -> StripeEventResult:
        event = await stripe_event_resolvers.replay(info.context, input.event_id)
        return StripeEventReplayed(event=event)
