"""Orders: what a host app sells, recorded and paid by one or more payment attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import orders as order_resolvers
from kassa.schema.computed import computed, with_context
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.money import Money
from kassa.schema.payments import Payment, PaymentIntentCreated, PaymentIntentResult
from kassa.schema.relay import Node, global_id
from kassa.schema.scalars import DecimalText
from kassa.services.orders import NewOrder
from kassa.services.rows import OrderRow

describe_enum(
    models.OrderStatus,
    "Where an order stands; it follows its payments",
    {
        "PENDING": "Not paid yet",
        "PAID": "A payment succeeded",
        "FAILED": "The last payment attempt failed; the order can still be paid",
        "CANCELED": "Its payment was canceled; the order can still be paid",
        "PARTIALLY_REFUNDED": "Paid, and part of the money refunded",
        "REFUNDED": "Paid, and all of the money refunded",
    },
)


def _amount(order: strawberry.Parent[models.Order]) -> Money:
    return Money.of_minor(order.amount, order.currency)


@strawberry.type(description="Something a host app sells, paid by one or more payment attempts")
class Order(Node):
    id: strawberry.ID = global_id(IdKind.ORDER)
    reference: str | None = strawberry.field(
        description="The host app's own id for it; unique per organization"
    )
    description: str | None = strawberry.field(
        description="What is sold, shown to the customer on Stripe Checkout's page"
    )
    amount: Money = computed(_amount, description="The price")
    status: models.OrderStatus = strawberry.field(description="Where the order stands")
    customer_email: str | None = strawberry.field(
        description="Gets the receipt and the order confirmation"
    )
    notify_emails: list[str] = strawberry.field(
        description="Also told when the order is paid (the seller, staff)"
    )
    created_at: datetime = strawberry.field(description="When the order was created")
    updated_at: datetime = strawberry.field(description="When the order last changed")
    payments: object = with_context(
        order_resolvers.order_payments,
        graphql_type=list[Payment],
        description="Its payment attempts, oldest first",
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.Order | OrderRow)


@strawberry.type(description="createOrder recorded the order")
class OrderCreated:
    order: models.Order = strawberry.field(
        graphql_type=Order,
        description="The order (the existing one when its reference was used before)",
    )


OrderResult = Annotated[
    OrderCreated | UserError,
    strawberry.union(
        "OrderResult", description="What createOrder answers: OrderCreated, or a UserError"
    ),
]


@strawberry.input(description="An order to record")
class CreateOrderInput:
    organization_id: strawberry.ID = strawberry.field(description="The selling organization")
    amount: DecimalText = strawberry.field(description='The price in major units: "49.00"')
    currency: str = strawberry.field(description="ISO 4217 code: eur")
    reference: str | None = strawberry.field(
        default=None,
        description="The host app's id for what is sold; unique per organization, so a "
        "retried createOrder returns the same order",
    )
    description: str | None = strawberry.field(
        default=None, description="What is sold, for the customer (1 to 1,000 characters)"
    )
    customer_email: str | None = strawberry.field(
        default=None, description="Gets the receipt and the order confirmation"
    )
    notify_emails: list[str] = strawberry.field(
        default_factory=list,
        description="Also told when the order is paid (at most 10 addresses)",
    )

    def to_request(self) -> NewOrder:
        return NewOrder(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            amount=self.amount,
            currency=self.currency,
            reference=self.reference,
            description=self.description,
            customer_email=self.customer_email,
            notify_emails=self.notify_emails,
        )


@strawberry.input(description="An order to pay by PaymentIntent")
class PayOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order (ord_…)")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A card to charge on the server (pm_… from Stripe.js); when omitted the "
        "default saved card, else the answer's clientSecret is for the browser",
    )


@strawberry.type
class OrderQuery:
    @strawberry.field(
        description="The order; null unless the caller may see it", graphql_type=Order | None
    )
    async def order(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order (ord_…)")],
    ) -> models.Order | None:
        return await order_resolvers.order(info.context, id)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        description="Record something a host app sells, to be paid. Errors: NOT_FOUND, "
        "INVALID_AMOUNT, UNSUPPORTED_CURRENCY, INVALID_INPUT, IDEMPOTENCY_KEY_REUSED "
        "(the reference exists with another amount)"
    )
    async def create_order(
        self,
        info: Info,
        input: Annotated[CreateOrderInput, strawberry.argument(description="The order")],
    ) -> OrderResult:
        return OrderCreated(
            order=await order_resolvers.create_order(info.context, input.to_request())
        )

    @strawberry.mutation(
        description="Pay an order by PaymentIntent; concurrent calls share one. Errors: NOT_FOUND, "
        "ALREADY_PAID, CARD_DECLINED, PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def pay_order(
        self,
        info: Info,
        input: Annotated[PayOrderInput, strawberry.argument(description="The order and card")],
    ) -> PaymentIntentResult:
        created = await order_resolvers.pay_order(
            info.context, input.order_id, input.payment_method_id
        )
        return PaymentIntentCreated(payment=created.payment, client_secret=created.client_secret)
