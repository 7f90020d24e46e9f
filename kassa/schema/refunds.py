"""Refunds: money going back for a payment, asked in kassa or in Stripe."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import refunds as refund_resolvers
from kassa.schema.computed import computed
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.money import Money
from kassa.schema.payments import RETRY_KEY, Payment
from kassa.schema.relay import Node, global_id
from kassa.schema.scalars import DecimalText
from kassa.services.refunds import RefundRequest

describe_enum(
    models.RefundStatus,
    "Where a refund stands; follows the Stripe Refund",
    {
        "PENDING": "Asked for; Stripe has not finished it",
        "REQUIRES_ACTION": "Stripe needs something more before it can send the money",
        "SUCCEEDED": "The money went back to the customer",
        "FAILED": "Stripe could not refund (see failureReason); the amount can be refunded again",
        "CANCELED": "Canceled before the money went back",
    },
)


def _amount(refund: strawberry.Parent[models.Refund]) -> Money:
    return Money.of_minor(refund.amount, refund.currency)


@strawberry.type(description="Money going back for a payment, asked in kassa or in Stripe")
class Refund(Node):
    id: strawberry.ID = global_id(IdKind.REFUND)
    amount: Money = computed(_amount, description="How much goes back")
    status: models.RefundStatus = strawberry.field(description="Where the refund stands")
    reason: str | None = strawberry.field(description="Why, as refundPayment was told")
    failure_reason: str | None = strawberry.field(
        description="Stripe's reason when the refund failed"
    )
    stripe_refund_id: str | None = strawberry.field(
        description="Stripe's Refund (re_…), once Stripe has it"
    )
    created_at: datetime = strawberry.field(description="When the refund was asked for")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.Refund)


@strawberry.type(description="refundPayment asked Stripe for the refund")
class RefundCreated:
    refund: models.Refund = strawberry.field(
        graphql_type=Refund, description="The refund (the first one again for a repeated key)"
    )
    payment: models.Payment = strawberry.field(
        graphql_type=Payment, description="The payment, amountRefunded included"
    )


RefundResult = Annotated[
    RefundCreated | UserError,
    strawberry.union(
        "RefundResult", description="What refundPayment answers: RefundCreated, or a UserError"
    ),
]


@strawberry.input(description="A refund to ask Stripe for")
class RefundPaymentInput:
    payment_id: strawberry.ID = strawberry.field(description="The succeeded payment (pay_…)")
    amount: DecimalText | None = strawberry.field(
        default=None, description="In the payment's currency; all that is left when omitted"
    )
    reason: str | None = strawberry.field(
        default=None, description="Why, kept with the refund (at most 500 characters)"
    )
    allow_negative_balance: bool = strawberry.field(
        default=False, description="Platform admins: refund a top-up the wallet no longer holds"
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY)

    def to_request(self) -> RefundRequest:
        return RefundRequest(
            payment_id=decode(IdKind.PAYMENT, self.payment_id),
            amount=self.amount,
            reason=self.reason,
            allow_negative_balance=self.allow_negative_balance,
            idempotency_key=self.idempotency_key,
        )


@strawberry.type
class RefundMutation:
    @strawberry.mutation(
        description="Refund all or part of a payment; owners and admins. Errors: NOT_FOUND, "
        "FORBIDDEN, INVALID_STATE, INVALID_AMOUNT, INVALID_INPUT, "
        "REFUND_EXCEEDS_CAPTURED, INSUFFICIENT_BALANCE (a top-up already spent), "
        "CREDITS_ALREADY_CONSUMED, IDEMPOTENCY_KEY_REUSED, PAYMENT_PROVIDER_ERROR, "
        "PAYMENT_OUTCOME_UNKNOWN"
    )
    async def refund_payment(
        self,
        info: Info,
        input: Annotated[RefundPaymentInput, strawberry.argument(description="The refund")],
    ) -> RefundResult:
        refund, payment = await refund_resolvers.refund_payment(info.context, input.to_request())
        return RefundCreated(refund=refund, payment=payment)
