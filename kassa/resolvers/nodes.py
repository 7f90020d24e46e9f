"""`node(id:)`: the id's kind names the type; each type keeps the rules of its own field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kassa.ids import IdKind, kind_of
from kassa.resolvers import (
    cards,
    invoices,
    orders,
    organizations,
    payments,
    refunds,
    subscriptions,
)

if TYPE_CHECKING:
    from kassa.schema.context import Context

NodeResolver = Callable[["Context", str], Awaitable[object | None]]

# Every type implementing Node is here (a test checks the schema against this).
RESOLVERS: dict[IdKind, NodeResolver] = {
    IdKind.ORGANIZATION: organizations.organization,
    IdKind.PAYMENT: payments.payment,
    IdKind.ORDER: orders.order,
    IdKind.REFUND: refunds.refund,
    IdKind.SAVED_CARD: cards.payment_method,
    IdKind.INVOICE: invoices.invoice,
    IdKind.SUBSCRIPTION: subscriptions.subscription,
}


async def node(context: Context, id: str) -> object | None:
    kind = kind_of(id)
    resolve = RESOLVERS.get(kind) if kind is not None else None
    return await resolve(context, id) if resolve is not None else None
