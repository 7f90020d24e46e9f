from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers.loading import loaded, prime
from kassa.services import orders
from kassa.services.pagination import Page
from kassa.services.payments import PaymentIntentCreated
from kassa.services.rows import OrderRow

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def order(context: Context, id: str) -> models.Order | None:
    caller = context.caller
    if caller is None:
        return None
    return await orders.visible_order(caller, decode(IdKind.ORDER, id))


def order_of_payment(
    context: Context, payment: models.Payment
) -> models.Order | OrderRow | Awaitable[models.Order | OrderRow | None] | None:
    order_id: uuid.UUID | None = payment.order_id  # type: ignore[attr-defined]
    return loaded(context.loaders.order, order_id) if order_id else None


def order_payments(
    context: Context, order: models.Order
) -> list[models.Payment] | Awaitable[list[models.Payment]]:
    return loaded(context.loaders.order_payments, order.id)


async def organization_orders(
    context: Context,
    organization: models.Organization,
    first: int | None,
    after: str | None,
    status: models.OrderStatus | None,
) -> Page[models.Order]:
    page = await orders.organization_orders(organization, first, after, status)
    keys = [order.id for _, order in page.items]
    if keys:
        prime(
            context.loaders.order_payments,
            dict(zip(keys, await orders.payments_of_orders(keys), strict=True)),
        )
    return page


async def create_order(context: Context, request: orders.NewOrder) -> models.Order:
    return await orders.create_order(context.require_caller(), request)


async def pay_order(
    context: Context, order_id: str, payment_method_id: str | None
) -> PaymentIntentCreated:
    return await orders.pay_order(
        context.require_caller(),
        context.runtime.gateway,
        decode(IdKind.ORDER, order_id),
        payment_method_id,
    )
