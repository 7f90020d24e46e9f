"""Payments: one attempt each to take money by card, wallet top-ups, confirming, canceling
and following a payment live."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import invoices as invoice_resolvers
from kassa.resolvers import orders as order_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.schema.cards import CardSummary
from kassa.schema.computed import computed, with_context
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.money import Money
from kassa.schema.relay import Node, global_id
from kassa.schema.scalars import DecimalText
from kassa.services.payments import TopUpRequest
from kassa.services.rows import PaymentRow

if TYPE_CHECKING:
    from kassa.schema.invoices import Invoice
    from kassa.schema.orders import Order
    from kassa.schema.refunds import Refund

describe_enum(
    models.PaymentPurpose,
    "What a payment is for",
    {
        "WALLET_TOP_UP": "Money into the organization's wallet (topUpWallet)",
        "CREDIT_PACKAGE": "A credit package (buyCredits, startCheckout); its lot fills on success",
        "ORDER": "An order a host app sells (payOrder, startCheckout)",
        "SUBSCRIPTION": "One invoice of a credit plan subscription; its lot fills on success",
    },
)
describe_enum(
    models.PaymentStatus,
    "Where a payment stands; follows its Stripe PaymentIntent",
    {
        "REQUIRES_PAYMENT_METHOD": "Waiting for a card: confirm the clientSecret with Stripe.js",
        "REQUIRES_CONFIRMATION": "A card is set; the payment waits to be confirmed",
        "REQUIRES_ACTION": "The customer must authenticate the card (3-D Secure) in the browser",
        "PROCESSING": "Stripe is processing it; the outcome arrives by webhook",
        "SUCCEEDED": "The money was captured. Final",
        "FAILED": "The last attempt failed (see failureCode); confirmPayment may try another card",
        "CANCELED": "Canceled before it succeeded. Final",
    },
)

RETRY_KEY = (
    "Makes a retry safe: the same key returns the first result; another request under it "
    "is IDEMPOTENCY_KEY_REUSED"
)
RECEIPT_EMAIL = (
    "where the receipt and refund notices go; default: the caller's email claim (API keys "
    "have none); INVALID_INPUT when not an email address"
)
LazyOrder = Annotated["Order", strawberry.lazy("kassa.schema.orders")]
LazyRefund = Annotated["Refund", strawberry.lazy("kassa.schema.refunds")]
LazyInvoice = Annotated["Invoice", strawberry.lazy("kassa.schema.invoices")]


def _amount(payment: strawberry.Parent[models.Payment]) -> Money:
    return Money.of_minor(payment.amount, payment.currency)


def _amount_refunded(payment: strawberry.Parent[models.Payment]) -> Money:
    return Money.of_minor(payment.amount_refunded, payment.currency)


def _card(payment: strawberry.Parent[models.Payment]) -> CardSummary | None:
    if payment.card_last4 is None and payment.card_brand is None:
        return None
    return CardSummary(
        brand=payment.card_brand,
        last4=payment.card_last4,
        exp_month=payment.card_exp_month,
        exp_year=payment.card_exp_year,
    )


@strawberry.type(description="One attempt to take money by card through Stripe")
class Payment(Node):
    """Shown over the `models.Payment` row itself: plain columns are read as they are."""

    id: strawberry.ID = global_id(IdKind.PAYMENT)
    purpose: models.PaymentPurpose = strawberry.field(description="What the payment is for")
    status: models.PaymentStatus = strawberry.field(description="Where the payment stands")
    amount: Money = computed(_amount, description="What the customer is charged")
    amount_refunded: Money = computed(
        _amount_refunded,
        description="Refunded so far, in the payment's currency (zero when nothing was)",
    )
    stripe_payment_intent_id: str | None = strawberry.field(
        description="Stripe's PaymentIntent (pi_…), once there is one"
    )
    stripe_checkout_session_id: str | None = strawberry.field(
        description="Stripe's Checkout Session (cs_…) when paid on Checkout's hosted page"
    )
    stripe_charge_id: str | None = strawberry.field(
        description="Stripe's charge (ch_… or py_…) once the card was charged"
    )
    card: CardSummary | None = computed(
        _card, description="The card that paid, once Stripe has said which"
    )
    failure_code: str | None = strawberry.field(
        description="Stripe's code for the last failed attempt (card_declined …); null after "
        "success"
    )
    failure_message: str | None = strawberry.field(
        description="Stripe's words for failureCode, fit to show the customer"
    )
    created_at: datetime = strawberry.field(description="When kassa recorded the payment")
    updated_at: datetime = strawberry.field(description="When the payment last changed")
    paid_at: datetime | None = strawberry.field(description="When it succeeded; null until then")
    duplicate: bool = strawberry.field(
        description="This payment succeeded for an order another payment had already paid; "
        "kassa refunds it by itself (KASSA_REFUND_DUPLICATE_PAYMENTS)"
    )

    order: object = with_context(
        order_resolvers.order_of_payment,
        graphql_type=LazyOrder | None,
        description="The order this payment pays (purpose ORDER); else null",
    )
    refunds: object = with_context(
        payment_resolvers.refunds_of_payment,
        graphql_type=list[LazyRefund],
        description="Refunds of this payment, oldest first",
    )
    invoice: object = with_context(
        invoice_resolvers.invoice_of_payment,
        graphql_type=LazyInvoice | None,
        description="Its invoice, issued when it succeeded; null until then",
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.Payment | PaymentRow)


@strawberry.type(description="A payment with its Stripe PaymentIntent, ready to pay")
class PaymentIntentCreated:
    payment: models.Payment = strawberry.field(
        graphql_type=Payment,
        description="The payment; SUCCEEDED already when a card paid on the server",
    )
    client_secret: str = strawberry.field(
        description="For Stripe.js in the browser (confirmCardPayment); never store or log it"
    )


@strawberry.type(description="confirmPayment or cancelPayment acted on the payment")
class PaymentChanged:
    payment: models.Payment = strawberry.field(
        graphql_type=Payment, description="The payment as it is now"
    )


PaymentIntentResult = Annotated[
    PaymentIntentCreated | UserError,
    strawberry.union(
        "PaymentIntentResult",
        description="What topUpWallet, payOrder and buyCredits answer: "
        "PaymentIntentCreated, or a UserError",
    ),
]
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


@strawberry.type
class PaymentQuery:
    @strawberry.field(
        description="The payment; null unless the caller may see it", graphql_type=Payment | None
    )
    async def payment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The payment (pay_…)")],
    ) -> models.Payment | None:
        return await payment_resolvers.payment(info.context, id)


@strawberry.type
class PaymentMutation:
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
        created = await payment_resolvers.top_up_wallet(info.context, input.to_request())
        return PaymentIntentCreated(payment=created.payment, client_secret=created.client_secret)

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
        payment = await payment_resolvers.confirm_payment(
            info.context, input.payment_id, input.payment_method_id
        )
        return PaymentChanged(payment=payment)

    @strawberry.mutation(
        description="Cancel a payment that has not succeeded (its order becomes CANCELED). "
        "Errors: NOT_FOUND, INVALID_STATE, PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def cancel_payment(
        self,
        info: Info,
        input: Annotated[CancelPaymentInput, strawberry.argument(description="The payment")],
    ) -> PaymentResult:
        payment = await payment_resolvers.cancel_payment(info.context, input.payment_id)
        return PaymentChanged(payment=payment)


@strawberry.type(description="Live updates over graphql-transport-ws at /graphql")
class Subscription:
    @strawberry.subscription(
        description="The payment, then again whenever it changes; its organization only",
        graphql_type=Payment,
    )
    async def payment_updated(
        self,
        info: Info,
        payment_id: Annotated[
            strawberry.ID, strawberry.argument(description="The payment to follow (pay_…)")
        ],
    ) -> AsyncGenerator[models.Payment, None]:
        async for payment in payment_resolvers.payment_updates(info.context, payment_id):
            yield payment
