"""The root Query and Mutation types, and the inputs and result unions of mutations."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import cards as card_resolvers
from kassa.resolvers import checkout as checkout_resolvers
from kassa.resolvers import credits as credit_resolvers
from kassa.resolvers import nodes as node_resolvers
from kassa.resolvers import orders as order_resolvers
from kassa.resolvers import organizations as organization_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.resolvers import refunds as refund_resolvers
from kassa.resolvers import stripe_events as stripe_event_resolvers
from kassa.resolvers import wallets as wallet_resolvers
from kassa.schema.errors import UserError
from kassa.schema.scalars import DecimalText
from kassa.schema.types import (
    After,
    CheckoutStarted,
    CheckoutStatus,
    Connection,
    CreditPackage,
    CreditsConsumed,
    First,
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

RETRY_KEY = (
    "Makes a retry safe: the same key returns the first result; another request under it "
    "is IDEMPOTENCY_KEY_REUSED"
)

RECEIPT_EMAIL = (
    "where the receipt and refund notices go; default: the caller's email claim (API keys "
    "have none); INVALID_INPUT when not an email address"
)

PaymentIntentResult = Annotated[
    PaymentIntentCreated | UserError,
    strawberry.union(
        "PaymentIntentResult",
        description="What topUpWallet, payOrder and buyCredits answer: "
        "PaymentIntentCreated, or a UserError",
    ),
]
StripeEventResult = Annotated[
    StripeEventReplayed | UserError,
    strawberry.union(
        "StripeEventResult",
        description="What replayStripeEvent answers: StripeEventReplayed, or a UserError",
    ),
]


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


HostNotificationsResult = Annotated[
    HostNotificationsConfigured | UserError,
    strawberry.union(
        "HostNotificationsResult",
        description="What setHostNotifications answers: "
        "HostNotificationsConfigured, or a UserError",
    ),
]


@strawberry.input(description="Where to send an organization's notifications")
class SetHostNotificationsInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (org_…)")
    url: str = strawberry.field(
        description="The host app's http(s) endpoint; in production a public address"
    )


PaymentResult = Annotated[
    PaymentChanged | UserError,
    strawberry.union(
        "PaymentResult",
        description="What confirmPayment and cancelPayment answer: PaymentChanged, or a UserError",
    ),
]


@strawberry.input(description="A payment to confirm on the server")
class ConfirmPaymentInput:
    payment_id: strawberry.ID = strawberry.field(description="The payment under way (pay_…)")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The card to confirm with (pm_…); the one already set when omitted",
    )


@strawberry.input(description="A payment to cancel")
class CancelPaymentInput:
    payment_id: strawberry.ID = strawberry.field(description="The payment under way (pay_…)")


SetupIntentResult = Annotated[
    SetupIntentCreated | UserError,
    strawberry.union(
        "SetupIntentResult",
        description="What createSetupIntent answers: SetupIntentCreated, or a UserError",
    ),
]
PaymentMethodResult = Annotated[
    PaymentMethodChanged | UserError,
    strawberry.union(
        "PaymentMethodResult",
        description="What setDefaultPaymentMethod and detachPaymentMethod answer: "
        "PaymentMethodChanged, or a UserError",
    ),
]


@strawberry.input(description="The organization that saves a card")
class CreateSetupIntentInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (org_…)")
    keep_card: bool = strawberry.field(
        default=True,
        description="Save the card for the organization (its Stripe customer's); false only "
        "collects it for one payment named next by paymentMethodId",
    )


@strawberry.input(description="A saved card")
class PaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(
        description="The saved card's id (card_…), as paymentMethods lists it"
    )


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


@strawberry.input(description="A credit package to buy")
class BuyCreditsInput:
    organization_id: strawberry.ID = strawberry.field(description="The buyer (org_…)")
    package_code: str = strawberry.field(
        description="The package's code, as creditPackages lists it"
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY)
    receipt_email: str | None = strawberry.field(default=None, description=RECEIPT_EMAIL)
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A card to charge on the server (pm_… from Stripe.js, or a saved card_…); "
        "when omitted the default saved card, else the answer's clientSecret is for the browser",
    )

    def to_request(self) -> BuyCredits:
        return BuyCredits(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            package_code=self.package_code,
            idempotency_key=self.idempotency_key,
            receipt_email=self.receipt_email,
            payment_method_id=self.payment_method_id,
        )


WalletResult = Annotated[
    WalletDebited | UserError,
    strawberry.union(
        "WalletResult", description="What debitWallet answers: WalletDebited, or a UserError"
    ),
]


@strawberry.input(description="Money to take out of a wallet")
class DebitWalletInput:
    organization_id: strawberry.ID = strawberry.field(description="The wallet's owner (org_…)")
    amount: DecimalText = strawberry.field(description='In major units: "7.50"')
    currency: str = strawberry.field(description="The wallet's ISO 4217 code: usd")
    reason: str = strawberry.field(description="What the money paid for, shown in the history")
    idempotency_key: str = strawberry.field(
        description="The same key returns the first result; a different request under it fails"
    )

    def to_request(self) -> DebitRequest:
        return DebitRequest(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            amount=self.amount,
            currency=self.currency,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
        )


CreditsResult = Annotated[
    CreditsConsumed | UserError,
    strawberry.union(
        "CreditsResult", description="What consumeCredits answers: CreditsConsumed, or a UserError"
    ),
]


@strawberry.input(description="Credits to spend")
class ConsumeCreditsInput:
    organization_id: strawberry.ID = strawberry.field(description="The credits' owner (org_…)")
    credits: int = strawberry.field(description="How many, at least 1")
    reason: str = strawberry.field(description="What the credits paid for, shown in the history")
    idempotency_key: str = strawberry.field(
        description="The same key returns the first result; a different request under it fails"
    )

    def to_request(self) -> ConsumeCredits:
        return ConsumeCredits(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            credits=self.credits,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="A stored Stripe event to apply again")
class ReplayStripeEventInput:
    event_id: str = strawberry.field(description="Stripe's event id (evt_…)")


@strawberry.input(description="A card payment into a wallet")
class TopUpWalletInput:
    organization_id: strawberry.ID = strawberry.field(description="The wallet's owner (org_…)")
    amount: DecimalText = strawberry.field(description='In major units: "25.00"')
    currency: str = strawberry.field(description="ISO 4217 code: usd")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A card to charge on the server (pm_… from Stripe.js); when omitted the "
        "default saved card, else the answer's clientSecret is for the browser",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY)
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


@strawberry.type(description="What can be read")
class Query:
    @strawberry.field(description="Who is calling")
    async def viewer(self, info: Info) -> Viewer:
        return await organization_resolvers.viewer(info)

    @strawberry.field(
        description="The organization; null unless the caller belongs to it (or is a platform "
        "admin)"
    )
    async def organization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The organization (org_…)")],
    ) -> Organization | None:
        return await organization_resolvers.organization(info, id)

    @strawberry.field(description="The payment; null unless the caller may see it")
    async def payment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The payment (pay_…)")],
    ) -> Payment | None:
        return await payment_resolvers.payment(info, id)

    @strawberry.field(description="The order; null unless the caller may see it")
    async def order(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order (ord_…)")],
    ) -> Order | None:
        return await order_resolvers.order(info, id)

    @strawberry.field(description="The credit packages on sale, cheapest first")
    async def credit_packages(self, info: Info) -> list[CreditPackage]:
        return await credit_resolvers.packages(info)

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
        return await checkout_resolvers.checkout_status(info, session_id)

    @strawberry.field(
        description="The Stripe event inbox, newest first; platform admins only (FORBIDDEN)"
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
    ) -> Connection[StripeEvent]:
        return await stripe_event_resolvers.events(info, status, first, after)

    @strawberry.field(
        description="Any object with an id, under the rules of its own field: null unless "
        "visible to the caller"
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Any Node's id")],
    ) -> Node | None:
        return await node_resolvers.node(info, id)


@strawberry.type(
    description="What can be done. Expected failures are a UserError in the result, "
    "listed in each mutation's description"
)
class Mutation:
    @strawberry.mutation(
        description="Start a card top-up of the organization's wallet; the money arrives when "
        "Stripe says the payment succeeded. Errors: NOT_FOUND, INVALID_AMOUNT, "
        "UNSUPPORTED_CURRENCY, INVALID_INPUT, IDEMPOTENCY_KEY_REUSED, CARD_DECLINED, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def top_up_wallet(
        self,
        info: Info,
        input: Annotated[TopUpWalletInput, strawberry.argument(description="The top-up")],
    ) -> PaymentIntentResult:
        return await payment_resolvers.top_up_wallet(info, input.to_request())

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
        return await order_resolvers.create_order(info, input.to_request())

    @strawberry.mutation(
        description="Pay an order by PaymentIntent; concurrent calls share one. Errors: NOT_FOUND, "
        "ALREADY_PAID, CARD_DECLINED, PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def pay_order(
        self,
        info: Info,
        input: Annotated[PayOrderInput, strawberry.argument(description="The order and card")],
    ) -> PaymentIntentResult:
        return await order_resolvers.pay_order(info, input.order_id, input.payment_method_id)

    @strawberry.mutation(
        description="Buy a credit package by PaymentIntent (Stripe Elements); the credits arrive "
        "when Stripe says it succeeded. Errors: NOT_FOUND (organization or package), "
        "INVALID_INPUT, IDEMPOTENCY_KEY_REUSED, CARD_DECLINED, PAYMENT_PROVIDER_ERROR, "
        "PAYMENT_OUTCOME_UNKNOWN"
    )
    async def buy_credits(
        self,
        info: Info,
        input: Annotated[BuyCreditsInput, strawberry.argument(description="The package")],
    ) -> PaymentIntentResult:
        return await credit_resolvers.buy_credits(info, input.to_request())

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
        return await checkout_resolvers.start_checkout(info, input.to_request())

    @strawberry.mutation(
        description="Spend credits, soonest-expiring lots first; members and API keys. "
        "Errors: NOT_FOUND, INVALID_INPUT, INSUFFICIENT_CREDITS, IDEMPOTENCY_KEY_REUSED"
    )
    async def consume_credits(
        self,
        info: Info,
        input: Annotated[ConsumeCreditsInput, strawberry.argument(description="What to spend")],
    ) -> CreditsResult:
        return await credit_resolvers.consume_credits(info, input.to_request())

    @strawberry.mutation(
        description="Take money out of the wallet (never below zero); members and API keys. "
        "Errors: NOT_FOUND, INVALID_AMOUNT, UNSUPPORTED_CURRENCY, INVALID_INPUT, "
        "INSUFFICIENT_BALANCE, IDEMPOTENCY_KEY_REUSED"
    )
    async def debit_wallet(
        self,
        info: Info,
        input: Annotated[DebitWalletInput, strawberry.argument(description="What to take")],
    ) -> WalletResult:
        return await wallet_resolvers.debit_wallet(info, input.to_request())

    @strawberry.mutation(
        description="Confirm a payment on the server with a saved or given card. "
        "Errors: NOT_FOUND, INVALID_STATE, ALREADY_PAID, CARD_DECLINED, PAYMENT_PROVIDER_ERROR, "
        "PAYMENT_OUTCOME_UNKNOWN"
    )
    async def confirm_payment(
        self,
        info: Info,
        input: Annotated[
            ConfirmPaymentInput, strawberry.argument(description="The payment and card")
        ],
    ) -> PaymentResult:
        return await payment_resolvers.confirm_payment(
            info, input.payment_id, input.payment_method_id
        )

    @strawberry.mutation(
        description="Cancel a payment that has not succeeded (its order becomes CANCELED). "
        "Errors: NOT_FOUND, INVALID_STATE, PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def cancel_payment(
        self,
        info: Info,
        input: Annotated[CancelPaymentInput, strawberry.argument(description="The payment")],
    ) -> PaymentResult:
        return await payment_resolvers.cancel_payment(info, input.payment_id)

    @strawberry.mutation(
        description="Start saving a card: confirm the secret with Stripe.js. Errors: NOT_FOUND, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def create_setup_intent(
        self,
        info: Info,
        input: Annotated[
            CreateSetupIntentInput, strawberry.argument(description="The organization")
        ],
    ) -> SetupIntentResult:
        return await card_resolvers.create_setup_intent(
            info, input.organization_id, input.keep_card
        )

    @strawberry.mutation(
        description="Make a saved card the one that pays when none is named. Errors: NOT_FOUND"
    )
    async def set_default_payment_method(
        self,
        info: Info,
        input: Annotated[PaymentMethodInput, strawberry.argument(description="The card")],
    ) -> PaymentMethodResult:
        return await card_resolvers.set_default(info, input.payment_method_id)

    @strawberry.mutation(
        description="Forget a saved card (detached from the Stripe customer). Errors: NOT_FOUND, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def detach_payment_method(
        self,
        info: Info,
        input: Annotated[PaymentMethodInput, strawberry.argument(description="The card")],
    ) -> PaymentMethodResult:
        return await card_resolvers.detach(info, input.payment_method_id)

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
        return await refund_resolvers.refund_payment(info, input.to_request())

    @strawberry.mutation(
        description="Where kassa POSTs signed payment and order changes; owners and admins. "
        "Errors: NOT_FOUND, FORBIDDEN, INVALID_INPUT"
    )
    async def set_host_notifications(
        self,
        info: Info,
        input: Annotated[SetHostNotificationsInput, strawberry.argument(description="The address")],
    ) -> HostNotificationsResult:
        return await organization_resolvers.set_host_notifications(
            info, input.organization_id, input.url
        )

    @strawberry.mutation(
        description="Apply a failed or dead event again; platform admins only. Errors: FORBIDDEN, "
        "NOT_FOUND"
    )
    async def replay_stripe_event(
        self,
        info: Info,
        input: Annotated[ReplayStripeEventInput, strawberry.argument(description="The event")],
    ) -> StripeEventResult:
        return await stripe_event_resolvers.replay(info, input.event_id)


@strawberry.type(description="Live updates over graphql-transport-ws at /graphql")
class Subscription:
    @strawberry.subscription(
        description="The payment, then again whenever it changes; its organization only"
    )
    async def payment_updated(
        self,
        info: Info,
        payment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The payment to follow (pay_…)")
        ],
    ) -> AsyncGenerator[Payment, None]:
        async for payment in payment_resolvers.payment_updates(info, payment_id):
            yield payment
