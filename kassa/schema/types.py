"""GraphQL object types. Fields that need data delegate to kassa.resolvers.

Every type, field, argument and enum value carries a description: frontend developers
read them in GraphiQL, and a test fails on any public name without one.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Generic, TypeVar

import strawberry

from kassa import models
from kassa.ids import IdKind, encode
from kassa.money import Money as DomainMoney
from kassa.resolvers import cards as card_resolvers
from kassa.resolvers import credits as credit_resolvers
from kassa.resolvers import orders as order_resolvers
from kassa.resolvers import organizations as organization_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.resolvers import refunds as refund_resolvers
from kassa.resolvers import stats as stats_resolvers
from kassa.resolvers import wallets as wallet_resolvers
from kassa.schema.context import Context
from kassa.schema.enums import describe_enum, known
from kassa.schema.scalars import DecimalText
from kassa.services.credits import CreditEntry
from kassa.services.identity import OrgRole
from kassa.services.wallets import WalletEntry

describe_enum(
    models.PaymentPurpose,
    "What a payment is for",
    {
        "WALLET_TOP_UP": "Money into the organization's wallet (topUpWallet)",
        "CREDIT_PACKAGE": "A credit package (buyCredits, startCheckout); its lot fills on success",
        "ORDER": "An order a host app sells (payOrder, startCheckout)",
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
describe_enum(
    models.TransferKind,
    "Why a ledger row moved money. A wallet shows TOP_UP, DEBIT and REFUND rows; the other "
    "kinds belong to sales and credits and never appear on a wallet",
    {
        "TOP_UP": "A card payment into the wallet (topUpWallet)",
        "PURCHASE": "Credits issued for a paid credit package (not a wallet row)",
        "SALE": "An order or credit package paid: money the organization earned (not a wallet row)",
        "DEBIT": "Money taken out by debitWallet; reason says what for",
        "REFUND": "A refunded top-up leaving the wallet (positive again if Stripe reverses it)",
        "ADJUSTMENT": "A correction made by an operator",
        "CONSUME": "Credits spent (not a wallet row)",
        "EXPIRE": "Credits that expired unspent (not a wallet row)",
        "CLAWBACK": "Credits taken back by a refund of their package (not a wallet row)",
    },
    name="WalletTransactionKind",
)
describe_enum(
    models.StripeEventStatus,
    "Where a received Stripe event stands in kassa's inbox",
    {
        "PENDING": "Stored and queued, not applied yet",
        "PROCESSED": "Applied",
        "IGNORED": "Stored without effect: a type kassa does not handle, another mode or "
        "account, an object that is not kassa's, or an event refused (lastError says why)",
        "FAILED": "Applying it failed; retried with backoff at nextAttemptAt",
        "DEAD": "Given up after the last retry (lastError says why); replayStripeEvent retries",
    },
)
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
describe_enum(
    OrgRole,
    "A member's role in an organization (the token's org_role, or the API key's role)",
    {
        "OWNER": "Manages the organization; in kassa the same rights as ADMIN",
        "ADMIN": "Refunds, payment statistics, host notifications, and all a member may do",
        "MEMBER": "Pays, tops up, debits the wallet, buys and spends credits",
    },
    name="OrganizationRole",
)

T = TypeVar("T")
Info = strawberry.Info[Context, None]

First = Annotated[
    int | None, strawberry.argument(description="How many rows: 20 when omitted, at most 100")
]
After = Annotated[
    str | None,
    strawberry.argument(description="Start after this cursor (the previous page's endCursor)"),
]


@strawberry.interface(description="An object with a global id, found again by Query.node")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id (org_…, pay_…); clients never build or parse it"
    )


@strawberry.type(
    description="Where a page stands. Pagination runs forward only, newest first (first/after)"
)
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow: ask after endCursor")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; null on an empty page"
    )
    has_previous_page: bool = strawberry.field(
        description="Rows come before this page: true when `after` was given and something "
        "precedes it, false on a first page"
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge; null on an empty page"
    )


@strawberry.type(description="One row of a page and where it stands")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to continue behind this row")
    node: T = strawberry.field(description="The row")


@strawberry.type(description="A page of a list, newest first (Relay cursor connection)")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page, newest first")
    page_info: PageInfo = strawberry.field(description="Where this page stands in the list")


@strawberry.type(description="An exact amount of money")
class Money:
    amount: DecimalText = strawberry.field(
        description='In major units, exact: "25.00" (USD), "1000" (JPY), "5.120" (KWD)'
    )
    currency: str = strawberry.field(description="Lower-case ISO 4217 code, as Stripe uses: usd")

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=DecimalText(money.format()), currency=money.currency)


@strawberry.type(description="What may be shown of a card; never its number")
class CardSummary:
    brand: str | None = strawberry.field(description="Stripe's brand: visa, mastercard, amex …")
    last4: str | None = strawberry.field(description="The card number's last four digits")
    exp_month: int | None = strawberry.field(description="Expiry month, 1 to 12")
    exp_year: int | None = strawberry.field(description="Expiry year, four digits")


@strawberry.type(description="One attempt to take money by card through Stripe")
class Payment(Node):
    purpose: models.PaymentPurpose = strawberry.field(description="What the payment is for")
    status: models.PaymentStatus = strawberry.field(description="Where the payment stands")
    amount: Money = strawberry.field(description="What the customer is charged")
    amount_refunded: Money = strawberry.field(
        description="Refunded so far, in the payment's currency (zero when nothing was)"
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
    card: CardSummary | None = strawberry.field(
        description="The card that paid, once Stripe has said which"
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
    model: strawberry.Private[models.Payment]

    @strawberry.field(description="The order this payment pays (purpose ORDER); else null")
    async def order(self, info: Info) -> Order | None:
        return await order_resolvers.order_of_payment(info, self.model)

    @strawberry.field(description="Refunds of this payment, oldest first")
    async def refunds(self, info: Info) -> list[Refund]:
        return await refund_resolvers.refunds_of_payment(info, self.model)

    @classmethod
    def of(cls, payment: models.Payment) -> Payment:
        return cls(
            id=strawberry.ID(encode(IdKind.PAYMENT, payment.id)),
            purpose=payment.purpose,
            status=payment.status,
            amount=Money.of(DomainMoney.of_minor(payment.amount, payment.currency)),
            amount_refunded=Money.of(
                DomainMoney.of_minor(payment.amount_refunded, payment.currency)
            ),
            stripe_payment_intent_id=payment.stripe_payment_intent_id,
            stripe_checkout_session_id=payment.stripe_checkout_session_id,
            stripe_charge_id=payment.stripe_charge_id,
            card=_card(payment),
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            paid_at=payment.paid_at,
            duplicate=payment.duplicate,
            model=payment,
        )


def _card(payment: models.Payment) -> CardSummary | None:
    if payment.card_last4 is None and payment.card_brand is None:
        return None
    return CardSummary(
        brand=payment.card_brand,
        last4=payment.card_last4,
        exp_month=payment.card_exp_month,
        exp_year=payment.card_exp_year,
    )


@strawberry.type(description="One movement of money into or out of a wallet")
class WalletTransaction:
    id: strawberry.ID = strawberry.field(description="Opaque id of this movement (wtx_…)")
    kind: models.TransferKind = strawberry.field(description="Why the money moved")
    amount: Money = strawberry.field(description="Signed: negative when money left the wallet")
    balance_after: Money = strawberry.field(description="The wallet's balance right after it")
    created_at: datetime = strawberry.field(description="When the money moved")
    entry: strawberry.Private[WalletEntry]
    reason: str | None = strawberry.field(
        default=None, description="What a DEBIT paid for, as debitWallet was told; else null"
    )

    @strawberry.field(description="The payment that caused it (TOP_UP, REFUND); else null")
    async def payment(self, info: Info) -> Payment | None:
        return await payment_resolvers.payment_by_model_id(info, self.entry.payment_id)

    @classmethod
    def of(cls, entry: WalletEntry) -> WalletTransaction:
        return cls(
            id=strawberry.ID(encode(IdKind.WALLET_TRANSACTION, entry.id)),
            kind=entry.kind,
            amount=Money.of(entry.amount),
            balance_after=Money.of(entry.balance_after),
            created_at=entry.created_at,
            entry=entry,
            reason=entry.reason,
        )


@strawberry.type(description="An organization's money in one currency")
class Wallet:
    currency: str = strawberry.field(description="Lower-case ISO 4217 code: usd")
    balance: Money = strawberry.field(
        description="What the wallet holds as booked in the ledger (zero for a new one)"
    )
    organization: strawberry.Private[models.Organization]

    @strawberry.field(description="Every movement of the balance, newest first")
    async def transactions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WalletTransaction]:
        return await wallet_resolvers.transactions(info, self, first, after)


@strawberry.type(description="debitWallet took the money")
class WalletDebited:
    transaction: WalletTransaction = strawberry.field(
        description="The DEBIT row (the first one again when the idempotency key repeats)"
    )


@strawberry.type(
    description="A tenant: its money, orders and cards are seen only by its members "
    "(and platform admins)"
)
class Organization(Node):
    name: str = strawberry.field(description="Its name: at first the org_id the tokens name it by")
    model: strawberry.Private[models.Organization]

    @classmethod
    def of(cls, organization: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(encode(IdKind.ORGANIZATION, organization.id)),
            name=organization.name,
            model=organization,
        )

    @strawberry.field(
        description="The wallet in one currency; a currency Stripe cannot charge is a "
        "top-level UNSUPPORTED_CURRENCY error"
    )
    async def wallet(
        self,
        info: Info,
        currency: Annotated[
            str, strawberry.argument(description="ISO 4217 code, any case: usd, EUR")
        ],
    ) -> Wallet:
        return await wallet_resolvers.wallet(info, self.model, currency)

    @strawberry.field(description="Its payments, newest first")
    async def payments(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            models.PaymentStatus | None,
            strawberry.argument(description="Only payments in this status; all when omitted"),
        ] = None,
    ) -> Connection[Payment]:
        return await payment_resolvers.organization_payments(info, self.model, first, after, status)

    @strawberry.field(description="Prepaid credits: what can be spent now, and the lots")
    async def credits(self, info: Info) -> CreditAccount:
        return await credit_resolvers.credit_account(info, self.model)

    @strawberry.field(
        description="Cards saved with Stripe; the default one pays when none is named"
    )
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        return await card_resolvers.payment_methods(info, self.model)

    @strawberry.field(
        description="Payment totals by status, day and currency; owners and admins "
        "(FORBIDDEN, INVALID_INPUT as top-level errors)"
    )
    async def payment_stats(
        self,
        info: Info,
        from_: Annotated[
            datetime | None,
            strawberry.argument(
                name="from", description="Start, included; 30 days before `to` when omitted"
            ),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="End, excluded; now when omitted. At most 366 days"),
        ] = None,
    ) -> PaymentStats:
        return await stats_resolvers.payment_stats(info, self.model, from_, to)

    @strawberry.field(description="Its orders, newest first")
    async def orders(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            models.OrderStatus | None,
            strawberry.argument(description="Only orders in this status; all when omitted"),
        ] = None,
    ) -> Connection[Order]:
        return await order_resolvers.organization_orders(info, self.model, first, after, status)


@strawberry.type(description="The caller's place in an organization")
class Membership:
    organization: Organization = strawberry.field(description="The organization")
    role: str = strawberry.field(
        description="owner, admin or member, as the token says; organizationRole is the enum"
    )
    organization_role: OrgRole = strawberry.field(
        description="The caller's role in the organization, as an enum"
    )


@strawberry.type(description="Who is calling, as the token or API key says")
class Viewer:
    user_id: str = strawberry.field(description="The token's sub (for an API key: apikey:<id>)")
    email: str | None = strawberry.field(description="The token's email claim, if any")
    roles: list[str] = strawberry.field(
        description="Platform roles: platform_admin may see and act on every organization"
    )

    @strawberry.field(description="The organization the caller acts for (none without one)")
    async def organizations(self, info: Info) -> list[Membership]:
        return await organization_resolvers.memberships(info)


@strawberry.type(description="A payment with its Stripe PaymentIntent, ready to pay")
class PaymentIntentCreated:
    payment: Payment = strawberry.field(
        description="The payment; SUCCEEDED already when a card paid on the server"
    )
    client_secret: str = strawberry.field(
        description="For Stripe.js in the browser (confirmCardPayment); never store or log it"
    )


@strawberry.type(description="A Stripe webhook event as kassa received and applied it")
class StripeEvent:
    id: str = strawberry.field(description="Stripe's event id (evt_…)")
    type: str = strawberry.field(description="Stripe's event type: payment_intent.succeeded …")
    status: models.StripeEventStatus = strawberry.field(description="Where it stands in kassa")
    livemode: bool = strawberry.field(description="Sent by Stripe's live mode (else test mode)")
    object_id: str | None = strawberry.field(
        description="The id of the Stripe object it is about (pi_…, re_…, cs_…)"
    )
    attempts: int = strawberry.field(description="How often kassa tried to apply it")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed, or why it was ignored"
    )
    created: datetime = strawberry.field(description="Stripe's time of the event")
    received_at: datetime = strawberry.field(description="When kassa's webhook stored it")
    processed_at: datetime | None = strawberry.field(description="When it was applied")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next retry is due; null when none is"
    )

    @classmethod
    def of(cls, event: models.StripeEvent) -> StripeEvent:
        return cls(
            id=event.id,
            type=event.type,
            status=event.status,
            livemode=event.livemode,
            object_id=event.object_id,
            attempts=event.attempts,
            last_error=event.last_error,
            created=event.stripe_created,
            received_at=event.received_at,
            processed_at=event.processed_at,
            next_attempt_at=event.next_attempt_at,
        )


@strawberry.type(description="replayStripeEvent put the event back in line")
class StripeEventReplayed:
    event: StripeEvent = strawberry.field(
        description="The event: PENDING when queued again, unchanged when already applied"
    )


@strawberry.type(description="Something a host app sells, paid by one or more payment attempts")
class Order(Node):
    reference: str | None = strawberry.field(
        description="The host app's own id for it; unique per organization"
    )
    description: str | None = strawberry.field(
        description="What is sold, shown to the customer on Stripe Checkout's page"
    )
    amount: Money = strawberry.field(description="The price")
    status: models.OrderStatus = strawberry.field(description="Where the order stands")
    customer_email: str | None = strawberry.field(
        description="Gets the receipt and the order confirmation"
    )
    notify_emails: list[str] = strawberry.field(
        description="Also told when the order is paid (the seller, staff)"
    )
    created_at: datetime = strawberry.field(description="When the order was created")
    updated_at: datetime = strawberry.field(description="When the order last changed")
    model: strawberry.Private[models.Order]

    @strawberry.field(description="Its payment attempts, oldest first")
    async def payments(self, info: Info) -> list[Payment]:
        return await order_resolvers.order_payments(info, self.model)

    @classmethod
    def of(cls, order: models.Order) -> Order:
        return cls(
            id=strawberry.ID(encode(IdKind.ORDER, order.id)),
            reference=order.reference,
            description=order.description,
            amount=Money.of(DomainMoney.of_minor(order.amount, order.currency)),
            status=order.status,
            customer_email=order.customer_email,
            notify_emails=list(order.notify_emails),
            created_at=order.created_at,
            updated_at=order.updated_at,
            model=order,
        )


@strawberry.type(description="createOrder recorded the order")
class OrderCreated:
    order: Order = strawberry.field(
        description="The order (the existing one when its reference was used before)"
    )


@strawberry.type(description="Money going back for a payment, asked in kassa or in Stripe")
class Refund(Node):
    amount: Money = strawberry.field(description="How much goes back")
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
    def of(cls, refund: models.Refund) -> Refund:
        return cls(
            id=strawberry.ID(encode(IdKind.REFUND, refund.id)),
            amount=Money.of(DomainMoney.of_minor(refund.amount, refund.currency)),
            status=refund.status,
            reason=refund.reason,
            failure_reason=refund.failure_reason,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
        )


@strawberry.type(description="refundPayment asked Stripe for the refund")
class RefundCreated:
    refund: Refund = strawberry.field(
        description="The refund (the first one again for a repeated key)"
    )
    payment: Payment = strawberry.field(description="The payment, amountRefunded included")


@strawberry.type(description="setHostNotifications saved the address")
class HostNotificationsConfigured:
    url: str = strawberry.field(description="Where kassa POSTs payment and order changes")
    signing_secret: str = strawberry.field(
        description="Verifies the Kassa-Signature header of every notification; keep it secret"
    )


@strawberry.type(description="confirmPayment or cancelPayment acted on the payment")
class PaymentChanged:
    payment: Payment = strawberry.field(description="The payment as it is now")


@strawberry.type(description="Payments of one status in one currency")
class PaymentStatusTotal:
    status: models.PaymentStatus = strawberry.field(description="Their status")
    currency: str = strawberry.field(description="Their currency")
    count: int = strawberry.field(description="How many")
    volume: Money = strawberry.field(description="Their amounts added up")


@strawberry.type(description="Payments of one day, status and currency")
class PaymentDayTotal:
    day: str = strawberry.field(description="YYYY-MM-DD, UTC")
    status: models.PaymentStatus = strawberry.field(description="Their status")
    currency: str = strawberry.field(description="Their currency")
    count: int = strawberry.field(description="How many")
    volume: Money = strawberry.field(description="Their amounts added up")


@strawberry.type(description="Succeeded payments in one currency")
class CurrencyPaymentSummary:
    currency: str = strawberry.field(description="The currency")
    succeeded_count: int = strawberry.field(description="How many payments succeeded")
    volume: Money = strawberry.field(description="What they brought in")
    refunded: Money = strawberry.field(description="What of it was refunded")
    refund_rate: DecimalText = strawberry.field(description="refunded / volume, 4 places")
    average_payment: Money = strawberry.field(description="volume / succeededCount")


@strawberry.type(description="An organization's payments added up over a time range")
class PaymentStats:
    from_: datetime = strawberry.field(name="from", description="Start of the range, included")
    to: datetime = strawberry.field(description="End of the range, excluded")
    by_status: list[PaymentStatusTotal] = strawberry.field(description="Totals per status")
    by_day: list[PaymentDayTotal] = strawberry.field(description="Totals per UTC day")
    currencies: list[CurrencyPaymentSummary] = strawberry.field(
        description="Succeeded and refunded per currency"
    )


@strawberry.type(description="A card saved with Stripe for the organization")
class PaymentMethod(Node):
    card: CardSummary | None = strawberry.field(description="What may be shown of the card")
    is_default: bool = strawberry.field(
        description="Pays topUpWallet, payOrder and buyCredits when they name no card"
    )

    @classmethod
    def of(cls, card: models.SavedCard) -> PaymentMethod:
        return cls(
            id=strawberry.ID(encode(IdKind.SAVED_CARD, card.id)),
            card=CardSummary(
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            ),
            is_default=card.is_default and card.detached_at is None,
        )


@strawberry.type(description="The saved card was made default or detached")
class PaymentMethodChanged:
    payment_method: PaymentMethod = strawberry.field(description="The card as it is now")


@strawberry.type(description="A Stripe SetupIntent for saving a card in the browser")
class SetupIntentCreated:
    setup_intent_id: str = strawberry.field(description="Stripe's SetupIntent (seti_…)")
    client_secret: str = strawberry.field(
        description="For Stripe.js confirmCardSetup; the card appears once Stripe confirms"
    )


@strawberry.type(description="A Stripe Checkout Session for the payment")
class CheckoutStarted:
    payment: Payment = strawberry.field(description="The payment the session collects")
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
    payment: Payment | None = strawberry.field(description="kassa's payment for the session")

    @strawberry.field(description="status as an enum; null for a value kassa does not know")
    def session_status(self) -> CheckoutSessionStatus | None:
        return known(CheckoutSessionStatus, self.status)

    @strawberry.field(description="paymentStatus as an enum; null for a value kassa does not know")
    def session_payment_status(self) -> CheckoutPaymentStatus | None:
        return known(CheckoutPaymentStatus, self.payment_status)


@strawberry.type(description="A package of prepaid credits on sale")
class CreditPackage:
    code: str = strawberry.field(description="What buyCredits and startCheckout take: standard")
    name: str = strawberry.field(description="Its name, fit to show the customer")
    credits: int = strawberry.field(description="How many credits it fills a lot with")
    price: Money = strawberry.field(description="What it costs")
    unit_price: DecimalText = strawberry.field(description="Price per credit, exact to 8 places")


@strawberry.type(description="Credits bought in one payment; spent soonest-expiring lot first")
class CreditLot:
    id: strawberry.ID = strawberry.field(description="Opaque id of the lot (lot_…)")
    credits: int = strawberry.field(description="How many credits the package held")
    remaining: int = strawberry.field(description="Not yet spent, expired or clawed back")
    expires_at: datetime = strawberry.field(description="After this, what remains expires")
    model: strawberry.Private[models.CreditLot]

    @strawberry.field(description="The payment that bought it")
    async def payment(self, info: Info) -> Payment | None:
        return await payment_resolvers.payment_by_model_id(info, self.model.payment_id)  # type: ignore[attr-defined]

    @classmethod
    def of(cls, lot: models.CreditLot) -> CreditLot:
        return cls(
            id=strawberry.ID(encode(IdKind.CREDIT_LOT, lot.id)),
            credits=lot.credits,
            remaining=lot.remaining,
            expires_at=lot.expires_at,
            model=lot,
        )


@strawberry.enum(description="Why credits moved")
class CreditTransactionKind(Enum):
    PURCHASE = strawberry.enum_value("PURCHASE", description="A paid package filled a lot")
    CONSUME = strawberry.enum_value("CONSUME", description="Spent by consumeCredits")
    EXPIRE = strawberry.enum_value("EXPIRE", description="A lot expired with credits left")
    CLAWBACK = strawberry.enum_value(
        "CLAWBACK", description="Taken back by a refund of their package (positive if reversed)"
    )
    GRANT = strawberry.enum_value("GRANT", description="Given without payment by an operator")
    ADJUSTMENT = strawberry.enum_value("ADJUSTMENT", description="A correction by an operator")


@strawberry.type(description="One change of the credit balance")
class CreditTransaction:
    id: strawberry.ID = strawberry.field(description="Opaque id of this change (ctx_…)")
    kind: CreditTransactionKind = strawberry.field(description="Why the credits moved")
    credits: int = strawberry.field(description="Signed: negative when credits left the account")
    balance_after: int = strawberry.field(description="The credit balance right after it")
    reason: str | None = strawberry.field(
        description="What a CONSUME paid for, as consumeCredits was told"
    )
    created_at: datetime = strawberry.field(description="When the credits moved")
    entry: strawberry.Private[CreditEntry]

    @strawberry.field(description="The payment that bought the credits; null for CONSUME")
    async def payment(self, info: Info) -> Payment | None:
        return await payment_resolvers.payment_by_model_id(info, self.entry.payment_id)

    @classmethod
    def of(cls, entry: CreditEntry) -> CreditTransaction:
        return cls(
            id=strawberry.ID(encode(IdKind.CREDIT_TRANSACTION, entry.id)),
            kind=CreditTransactionKind(entry.kind.value),
            credits=entry.credits,
            balance_after=entry.balance_after,
            reason=entry.reason,
            created_at=entry.created_at,
            entry=entry,
        )


@strawberry.type(description="An organization's prepaid credits")
class CreditAccount:
    balance: int = strawberry.field(
        description="Credits that can be spent now: unexpired lots less any clawback debt"
    )
    lots: list[CreditLot] = strawberry.field(
        description="Its lots, soonest-expiring first (expired ones too)"
    )
    organization: strawberry.Private[models.Organization]

    @strawberry.field(description="Every change of the balance, newest first")
    async def transactions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[CreditTransaction]:
        return await credit_resolvers.transactions(info, self.organization, first, after)


@strawberry.type(description="consumeCredits spent the credits")
class CreditsConsumed:
    transaction: CreditTransaction = strawberry.field(
        description="The CONSUME row (the first one again when the idempotency key repeats)"
    )
    balance: int = strawberry.field(description="Credits that can be spent now")
