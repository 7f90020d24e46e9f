"""The root Query and Mutation types, and the inputs and result unions of mutations."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from kassa import models
from kassa.ids import IdKind, decode, kind_of
from kassa.resolvers import cards as card_resolvers
from kassa.resolvers import checkout as checkout_resolvers
from kassa.resolvers import credits as credit_resolvers
from kassa.resolvers import orders as order_resolvers
from kassa.resolvers import organizations as organization_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.resolvers import refunds as refund_resolvers
from kassa.resolvers import stripe_events as stripe_event_resolvers
from kassa.resolvers import wallets as wallet_resolvers
from kassa.schema.errors import UserError
from kassa.schema.scalars import DecimalText
from kassa.schema.types import (
    CheckoutStarted,
    CheckoutStatus,
    Connection,
    CreditPackage,
    CreditsConsumed,
    HostNotificationsConfigured,
    Info,
    Node,
    Order,
    OrderCreated,
    Organization,
    Payment,
    PaymentChanged,
    PaymentIntentCreated,
    PaymentMethodChanged,
    RefundCreated,
    SetupIntentCreated,
    StripeEvent,
    StripeEventReplayed,
    Viewer,
    WalletDebited,
)
from kassa.services.checkout import CheckoutRequest
from kassa.services.credits import BuyCredits, ConsumeCredits
from kassa.services.orders import NewOrder
from kassa.services.payments import TopUpRequest
from kassa.services.refunds import RefundRequest
from kassa.services.wallets import DebitRequest

RECEIPT_EMAIL = (
    "where the receipt and refund notices go; default: the caller's email claim (API keys "
    "have none); INVALID_INPUT when not an email address"
)
PaymentIntentResult = Annotated[
    PaymentIntentCreated | UserError, strawberry.union("PaymentIntentResult")
]
StripeEventResult = Annotated[
    StripeEventReplayed | UserError, strawberry.union("StripeEventResult")
]


OrderResult = Annotated[OrderCreated | UserError, strawberry.union("OrderResult")]


@strawberry.input
class CreateOrderInput:
    organization_id: strawberry.ID
    amount: DecimalText
    currency: str
    reference: str | None = strawberry.field(
        default=None, description="the host app's id for what is sold; unique per organization"
    )
    description: str | None = None
    customer_email: str | None = None
    notify_emails: list[str] = strawberry.field(default_factory=list)

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


@strawberry.input
class PayOrderInput:
    order_id: strawberry.ID
    payment_method_id: strawberry.ID | None = None


RefundResult = Annotated[RefundCreated | UserError, strawberry.union("RefundResult")]


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    amount: DecimalText | None = strawberry.field(
        default=None, description="in the payment's currency; all that is left when omitted"
    )
    reason: str | None = None
    allow_negative_balance: bool = strawberry.field(
        default=False, description="platform admins: refund a top-up the wallet no longer holds"
    )
    idempotency_key: str | None = None

    def to_request(self) -> RefundRequest:
        return RefundRequest(
            payment_id=decode(IdKind.PAYMENT, self.payment_id),
            amount=self.amount,
            reason=self.reason,
            allow_negative_balance=self.allow_negative_balance,
            idempotency_key=self.idempotency_key,
        )


HostNotificationsResult = Annotated[
    HostNotificationsConfigured | UserError, strawberry.union("HostNotificationsResult")
]


@strawberry.input
class SetHostNotificationsInput:
    organization_id: strawberry.ID
    url: str


PaymentResult = Annotated[PaymentChanged | UserError, strawberry.union("PaymentResult")]


@strawberry.input
class ConfirmPaymentInput:
    payment_id: strawberry.ID
    payment_method_id: strawberry.ID | None = None


@strawberry.input
class CancelPaymentInput:
    payment_id: strawberry.ID


SetupIntentResult = Annotated[SetupIntentCreated | UserError, strawberry.union("SetupIntentResult")]
PaymentMethodResult = Annotated[
    PaymentMethodChanged | UserError, strawberry.union("PaymentMethodResult")
]


@strawberry.input
class CreateSetupIntentInput:
    organization_id: strawberry.ID


@strawberry.input
class PaymentMethodInput:
    payment_method_id: strawberry.ID


CheckoutResult = Annotated[CheckoutStarted | UserError, strawberry.union("CheckoutResult")]


@strawberry.input(description="Either orderId, or organizationId and creditPackage")
class StartCheckoutInput:
    success_url: str = strawberry.field(
        description="may hold {CHECKOUT_SESSION_ID}, which Stripe fills in"
    )
    cancel_url: str
    order_id: strawberry.ID | None = None
    organization_id: strawberry.ID | None = None
    credit_package: str | None = strawberry.field(
        default=None, description="the code of the credit package to buy"
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


@strawberry.input
class BuyCreditsInput:
    organization_id: strawberry.ID
    package_code: str
    idempotency_key: str | None = None
    receipt_email: str | None = strawberry.field(default=None, description=RECEIPT_EMAIL)

    def to_request(self) -> BuyCredits:
        return BuyCredits(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            package_code=self.package_code,
            idempotency_key=self.idempotency_key,
            receipt_email=self.receipt_email,
        )


WalletResult = Annotated[WalletDebited | UserError, strawberry.union("WalletResult")]


@strawberry.input
class DebitWalletInput:
    organization_id: strawberry.ID
    amount: DecimalText
    currency: str
    reason: str = strawberry.field(description="what the money paid for, shown in the history")
    idempotency_key: str = strawberry.field(
        description="the same key returns the first result; a different request under it fails"
    )

    def to_request(self) -> DebitRequest:
        return DebitRequest(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            amount=self.amount,
            currency=self.currency,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
        )


CreditsResult = Annotated[CreditsConsumed | UserError, strawberry.union("CreditsResult")]


@strawberry.input
class ConsumeCreditsInput:
    organization_id: strawberry.ID
    credits: int
    reason: str = strawberry.field(description="what the credits paid for, shown in the history")
    idempotency_key: str = strawberry.field(
        description="the same key returns the first result; a different request under it fails"
    )

    def to_request(self) -> ConsumeCredits:
        return ConsumeCredits(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            credits=self.credits,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class ReplayStripeEventInput:
    event_id: str


@strawberry.input
class TopUpWalletInput:
    organization_id: strawberry.ID
    amount: DecimalText
    currency: str
    payment_method_id: strawberry.ID | None = None
    idempotency_key: str | None = None
    receipt_email: str | None = strawberry.field(default=None, description=RECEIPT_EMAIL)

    def to_request(self) -> TopUpRequest:
        return TopUpRequest(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            amount=self.amount,
            currency=self.currency,
            payment_method_id=self.payment_method_id,
            idempotency_key=self.idempotency_key,
            receipt_email=self.receipt_email,
        )


@strawberry.type
class Query:
    @strawberry.field
    async def viewer(self, info: Info) -> Viewer:
        return await organization_resolvers.viewer(info)

    @strawberry.field(description="null unless the caller belongs to it (or is platform admin)")
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return await organization_resolvers.organization(info, id)

    @strawberry.field(description="null unless visible to the caller")
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        return await payment_resolvers.payment(info, id)

    @strawberry.field(description="null unless visible to the caller")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        return await order_resolvers.order(info, id)

    @strawberry.field(description="The credit packages on sale")
    async def credit_packages(self, info: Info) -> list[CreditPackage]:
        return await credit_resolvers.packages(info)

    @strawberry.field(description="For the success page: asks Stripe when the webhook is late")
    async def checkout_status(self, info: Info, session_id: str) -> CheckoutStatus | None:
        return await checkout_resolvers.checkout_status(info, session_id)

    @strawberry.field(description="The Stripe event inbox; platform admins only")
    async def stripe_events(
        self,
        info: Info,
        status: models.StripeEventStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StripeEvent]:
        return await stripe_event_resolvers.events(info, status, first, after)

    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        kind = kind_of(id)
        if kind is IdKind.ORGANIZATION:
            return await organization_resolvers.organization(info, id)
        if kind is IdKind.PAYMENT:
            return await payment_resolvers.payment(info, id)
        if kind is IdKind.ORDER:
            return await order_resolvers.order(info, id)
        return None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a card top-up of the organization's wallet")
    async def top_up_wallet(self, info: Info, input: TopUpWalletInput) -> PaymentIntentResult:
        return await payment_resolvers.top_up_wallet(info, input.to_request())

    @strawberry.mutation(description="Record something a host app sells, to be paid")
    async def create_order(self, info: Info, input: CreateOrderInput) -> OrderResult:
        return await order_resolvers.create_order(info, input.to_request())

    @strawberry.mutation(description="Pay an order by PaymentIntent (ALREADY_PAID once paid)")
    async def pay_order(self, info: Info, input: PayOrderInput) -> PaymentIntentResult:
        return await order_resolvers.pay_order(info, input.order_id, input.payment_method_id)

    @strawberry.mutation(description="Buy a credit package by PaymentIntent (Stripe Elements)")
    async def buy_credits(self, info: Info, input: BuyCreditsInput) -> PaymentIntentResult:
        return await credit_resolvers.buy_credits(info, input.to_request())

    @strawberry.mutation(
        description="Pay an order or buy a credit package on Stripe Checkout's hosted page"
    )
    async def start_checkout(self, info: Info, input: StartCheckoutInput) -> CheckoutResult:
        return await checkout_resolvers.start_checkout(info, input.to_request())

    @strawberry.mutation(
        description="Spend credits, soonest-expiring lots first; members and API keys"
    )
    async def consume_credits(self, info: Info, input: ConsumeCreditsInput) -> CreditsResult:
        return await credit_resolvers.consume_credits(info, input.to_request())

    @strawberry.mutation(
        description="Take money out of the wallet (never below zero); members and API keys"
    )
    async def debit_wallet(self, info: Info, input: DebitWalletInput) -> WalletResult:
        return await wallet_resolvers.debit_wallet(info, input.to_request())

    @strawberry.mutation(description="Confirm a payment on the server with a saved or given card")
    async def confirm_payment(self, info: Info, input: ConfirmPaymentInput) -> PaymentResult:
        return await payment_resolvers.confirm_payment(
            info, input.payment_id, input.payment_method_id
        )

    @strawberry.mutation(description="Cancel a payment that has not succeeded")
    async def cancel_payment(self, info: Info, input: CancelPaymentInput) -> PaymentResult:
        return await payment_resolvers.cancel_payment(info, input.payment_id)

    @strawberry.mutation(description="Start saving a card: confirm the secret with Stripe.js")
    async def create_setup_intent(
        self, info: Info, input: CreateSetupIntentInput
    ) -> SetupIntentResult:
        return await card_resolvers.create_setup_intent(info, input.organization_id)

    @strawberry.mutation(description="The card that pays when none is named")
    async def set_default_payment_method(
        self, info: Info, input: PaymentMethodInput
    ) -> PaymentMethodResult:
        return await card_resolvers.set_default(info, input.payment_method_id)

    @strawberry.mutation(description="Forget a saved card (detached from the Stripe customer)")
    async def detach_payment_method(
        self, info: Info, input: PaymentMethodInput
    ) -> PaymentMethodResult:
        return await card_resolvers.detach(info, input.payment_method_id)

    @strawberry.mutation(description="Refund all or part of a payment; owners and admins")
    async def refund_payment(self, info: Info, input: RefundPaymentInput) -> RefundResult:
        return await refund_resolvers.refund_payment(info, input.to_request())

    @strawberry.mutation(
        description="Where kassa POSTs signed payment and order changes; owners and admins"
    )
    async def set_host_notifications(
        self, info: Info, input: SetHostNotificationsInput
    ) -> HostNotificationsResult:
        return await organization_resolvers.set_host_notifications(
            info, input.organization_id, input.url
        )

    @strawberry.mutation(description="Apply a failed or dead event again; platform admins only")
    async def replay_stripe_event(
        self, info: Info, input: ReplayStripeEventInput
    ) -> StripeEventResult:
        return await stripe_event_resolvers.replay(info, input.event_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The payment, then again whenever it changes; its organization only"
    )
    async def payment_updated(
        self, info: Info, payment_id: strawberry.ID
    ) -> AsyncGenerator[Payment, None]:
        async for payment in payment_resolvers.payment_updates(info, payment_id):
            yield payment
