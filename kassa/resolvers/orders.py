from __future__ import annotations

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers.connections import connection
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import orders
from kassa.services.errors import DomainError


async def order(info: gql.Info, id: str) -> gql.Order | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await orders.visible_order(caller, decode(IdKind.ORDER, id))
    return gql.Order.of(found) if found else None


async def order_of_payment(info: gql.Info, payment: models.Payment) -> gql.Order | None:
    order_id = payment.order_id  # type: ignore[attr-defined]
    found = await orders.by_id(order_id) if order_id else None
    return gql.Order.of(found) if found else None


async def order_payments(info: gql.Info, order: models.Order) -> list[gql.Payment]:
    return [gql.Payment.of(payment) for payment in await orders.order_payments(order)]


async def organization_orders(
    info: gql.Info,
    organization: models.Organization,
    first: int | None,
    after: str | None,
    status: models.OrderStatus | None,
) -> gql.Connection[gql.Order]:
    try:
        page = await orders.organization_orders(organization, first, after, status)
    except DomainError as exc:
        raise query_error(exc) from exc
    return connection(page, gql.Order.of)


async def create_order(info: gql.Info, request: orders.NewOrder) -> gql.OrderCreated | UserError:
    caller = info.context.require_caller()
    try:
        created = await orders.create_order(caller, request)
    except DomainError as exc:
        return UserError.of(exc)
    return gql.OrderCreated(order=gql.Order.of(created))


async def pay_order(
    info: gql.Info, order_id: str, payment_method_id: str | None
) -> gql.PaymentIntentCreated | UserError:
    caller = info.context.require_caller()
    try:
        created = await orders.pay_order(
            caller, info.context.runtime.gateway, decode(IdKind.ORDER, order_id), payment_method_id
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentIntentCreated(
        payment=gql.Payment.of(created.payment), client_secret=created.client_secret
    )
