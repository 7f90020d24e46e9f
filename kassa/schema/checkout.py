"""Stripe Checkout: paying an order or a credit package on Stripe's hosted page."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import checkout as checkout_resolvers
from kassa.schema.context import Info
from kassa.schema.enums import known
from kassa.schema.errors import UserError
from kassa.schema.payments import Payment
from kassa.services.checkout import CheckoutRequest


@strawberry.type(description="A Stripe Checkout Session for the payment")
class CheckoutStarted:
    payment: models.Payment = strawberry.field(
        graphql_type=Payment, description="The payment the session collects"
    )
    session_id: str = strawberry.field(
        description="Stripe's Checkout Session (cs_…); checkoutStatus takes it"
    )
    url: str = strawberry.field(description="Stripe's hosted payment page: send the customer here")


@strawberry.enum(description="Where a Stripe Checkout Session stands (Stripe's status)")
class CheckoutSessionStatus(Enum):
    OPEN = strawberry.enum_value("open", description="The customer can still pay on the page")
    COMPLETE = strawberry.enum_value(
        "complete", description="The customer finished the page; see sessionPaymentStatus"
    )
    EXPIRED = strawberry.enum_value("expired", description="It can no longer be paid")


@strawberry.enum(description="Whether a Checkout Session's money arrived (Stripe's payment_status)")
class CheckoutPaymentStatus(Enum):
    PAID = strawberry.enum_value("paid", description="The money arrived")
    UNPAID = strawberry.enum_value(
        "unpaid", description="Not yet: still open, expired, or a slow payment method under way"
    )
    NO_PAYMENT_REQUIRED = strawberry.enum_value(
        "no_payment_required", description="Nothing to pay (never for kassa's sessions)"
    )


@strawberry.type(description="A Checkout Session as the success page needs it")
class CheckoutStatus:
    session_id: str = strawberry.field(description="Stripe's Checkout Session (cs_…)")
    status: str = strawberry.field(
        description="open | complete | expired, as Stripe says; sessionStatus is the enum"
    )
    payment_status: str = strawberry.field(
        description="paid | unpaid | no_payment_required, as Stripe says; "
        "sessionPaymentStatus is the enum"
    )
    payment: models.Payment | None = strawberry.field(
        graphql_type=Payment | None, description="kassa's payment for the session"
    )

    @strawberry.field(description="status as an enum; null for a value kassa does not know")
    def session_status(self) -> CheckoutSessionStatus | None:
        return known(CheckoutSessionStatus, self.status)

    @strawberry.field(description="paymentStatus as an enum; null for a value kassa does not know")
    def session_payment_status(self) -> CheckoutPaymentStatus | None:
        return known(CheckoutPaymentStatus, self.payment_status)


CheckoutResult = Annotated[
    CheckoutStarted | UserError,
    strawberry.union(
        "CheckoutResult", description="What startCheckout answers: CheckoutStarted, or a UserError"
    ),
]


@strawberry.input(description="Either orderId, or organizationId and creditPackage")
class StartCheckoutInput:
    success_url: str = strawberry.field(
        description="Where Stripe sends the customer after paying (http or https); may hold "
        "{CHECKOUT_SESSION_ID}, which Stripe fills in"
    )
    cancel_url: str = strawberry.field(
        description="Where Stripe sends the customer who gives up (http or https)"
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="The order to pay (ord_…)"
    )
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="The organization buying credits (org_…)"
    )
    credit_package: str | None = strawberry.field(
        default=None, description="The code of the credit package to buy"
    )

    def to_request(self) -> CheckoutRequest:
        return CheckoutRequest(
            success_url=self.success_url,
            cancel_url=self.cancel_url,
            for_order=self.order_id is not None,
            order_id=decode(IdKind.ORDER, self.order_id) if self.order_id is not None else None,
            organization_id=(
                decode(IdKind.ORGANIZATION, self.organization_id)
                if self.organization_id is not None
                else None
            ),
            credit_package=self.credit_package,
        )


@strawberry.type
class CheckoutQuery:
    @strawberry.field(
        description="For the success page: asks Stripe when the webhook is late; null unless "
        "the session is the caller's"
    )
    async def checkout_status(
        self,
        info: Info,
        session_id: Annotated[
            str,
            strawberry.argument(
                description="Stripe's Checkout Session (cs_…), as the success URL got it"
            ),
        ],
    ) -> CheckoutStatus | None:
        found = await checkout_resolvers.checkout_status(info.context, session_id)
        if found is None:
            return None
        return CheckoutStatus(
            session_id=session_id,
            status=found.status,
            payment_status=found.payment_status,
            payment=found.payment,
        )


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(
        description="Pay an order or buy a credit package on Stripe Checkout's hosted page. "
        "Errors: NOT_FOUND, ALREADY_PAID, INVALID_INPUT, PAYMENT_PROVIDER_ERROR, "
        "PAYMENT_OUTCOME_UNKNOWN"
    )
    async def start_checkout(
        self,
        info: Info,
        input: Annotated[StartCheckoutInput, strawberry.argument(description="What to pay")],
    ) -> CheckoutResult:
        started = await checkout_resolvers.start_checkout(info.context, input.to_request())
        return CheckoutStarted(
            payment=started.payment, session_id=started.session_id, url=started.url
        )
