from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING

from graphql import GraphQLError

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers.loading import loaded, prime
from kassa.services import api_keys, payment_actions, payments, rows
from kassa.services.errors import not_found
from kassa.services.pagination import Page
from kassa.services.rows import PaymentRow

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def payment(context: Context, id: str) -> models.Payment | None:
    caller = context.caller
    if caller is None:
        return None
    return await payments.visible_payment(caller, decode(IdKind.PAYMENT, id))


def payment_by_id(
    context: Context, payment_id: uuid.UUID | None
) -> models.Payment | Awaitable[models.Payment | None] | None:
    return loaded(context.loaders.payment, payment_id) if payment_id else None


def refunds_of_payment(
    context: Context, payment: models.Payment
) -> list[models.Refund] | Awaitable[list[models.Refund]]:
    return loaded(context.loaders.refunds, payment.id)


async def organization_payments(
    context: Context,
    organization: models.Organization,
    first: int | None,
    after: str | None,
    status: models.PaymentStatus | None,
) -> Page[PaymentRow]:
    page = await rows.organization_payments(organization, first, after, status)
    # The rows' orders came with them: each row's `order` is answered at once.
    prime(context.loaders.order, {o.id: o for _, listed in page.items if (o := listed.order)})
    return page.map(lambda listed: listed.payment)


async def payment_updates(context: Context, id: str) -> AsyncGenerator[models.Payment, None]:
    """The payment now, then again after every committed change, from any process."""
    caller = await context.subscriber()
    found = await payments.visible_payment(caller, decode(IdKind.PAYMENT, id))
    if found is None:
        raise not_found("payment", "paymentId")
    async with context.runtime.payment_updates.changes(found.id) as changes:
        while True:
            # A stream outlives its start: an API key revoked since ends it.
            if not await api_keys.still_valid(caller):
                raise GraphQLError(
                    "this API key was revoked", extensions={"code": "UNAUTHENTICATED"}
                )
            yield await payments.by_id(found.id)
            await changes.get()


async def top_up_wallet(
    context: Context, request: payments.TopUpRequest
) -> payments.PaymentIntentCreated:
    return await payments.top_up_wallet(context.require_caller(), context.runtime.gateway, request)


async def confirm_payment(
    context: Context, payment_id: str, payment_method_id: str | None
) -> models.Payment:
    return await payment_actions.confirm_payment(
        context.require_caller(),
        context.runtime.gateway,
        decode(IdKind.PAYMENT, payment_id),
        payment_method_id,
    )


async def cancel_payment(context: Context, payment_id: str) -> models.Payment:
    return await payment_actions.cancel_payment(
        context.require_caller(), context.runtime.gateway, decode(IdKind.PAYMENT, payment_id)
    )
