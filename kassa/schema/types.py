"""GraphQL object types. Fields that need data delegate to kassa.resolvers."""

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
from kassa.schema.scalars import DecimalText
from kassa.services.credits import CreditEntry
from kassa.services.wallets import WalletEntry

strawberry.enum(models.PaymentPurpose)
strawberry.enum(models.PaymentStatus)
strawberry.enum(models.TransferKind, name="WalletTransactionKind")
strawberry.enum(models.StripeEventStatus)
strawberry.enum(models.OrderStatus)
strawberry.enum(models.RefundStatus)

T = TypeVar("T")
Info = strawberry.Info[Context, None]


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool
    start_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


@strawberry.type
class Money:
    amount: DecimalText
    currency: str = strawberry.field(description="lower-case ISO code, as Stripe uses")

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=DecimalText(money.format()), currency=money.currency)


@strawberry.type
class CardSummary:
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@strawberry.type
class Payment(Node):
    purpose: models.PaymentPurpose
    status: models.PaymentStatus
    amount: Money
    amount_refunded: Money
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    stripe_charge_id: str | None
    card: CardSummary | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    model: strawberry.Private[models.Payment]

    @strawberry.field
    async def order(self, info: Info) -> Order | None:
        return await order_resolvers.order_of_payment(info, self.model)

    @strawberry.field
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


@strawberry.type
class WalletTransaction:
    id: strawberry.ID
    kind: models.TransferKind
    amount: Money
    balance_after: Money
    created_at: datetime
    entry: strawberry.Private[WalletEntry]
    reason: str | None = strawberry.field(default=None, description="why a debit was made")

    @strawberry.field
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


@strawberry.type
class Wallet:
    currency: str
    balance: Money
    organization: strawberry.Private[models.Organization]

    @strawberry.field
    async def transactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WalletTransaction]:
        return await wallet_resolvers.transactions(info, self, first, after)


@strawberry.type
class WalletDebited:
    transaction: WalletTransaction = strawberry.field(
        description="the DEBIT row (the first one again when the idempotency key repeats)"
    )


@strawberry.type
class Organization(Node):
    name: str
    model: strawberry.Private[models.Organization]

    @classmethod
    def of(cls, organization: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(encode(IdKind.ORGANIZATION, organization.id)),
            name=organization.name,
            model=organization,
        )

    @strawberry.field
    async def wallet(self, info: Info, currency: str) -> Wallet:
        return await wallet_resolvers.wallet(info, self.model, currency)

    @strawberry.field
    async def payments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: models.PaymentStatus | None = None,
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

    @strawberry.field(description="Owners and admins; the last 30 days unless told otherwise")
    async def payment_stats(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> PaymentStats:
        return await stats_resolvers.payment_stats(info, self.model, from_, to)

    @strawberry.field
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: models.OrderStatus | None = None,
    ) -> Connection[Order]:
        return await order_resolvers.organization_orders(info, self.model, first, after, status)


@strawberry.type
class Membership:
    organization: Organization
    role: str


@strawberry.type
class Viewer:
    user_id: str
    email: str | None
    roles: list[str]

    @strawberry.field
    async def organizations(self, info: Info) -> list[Membership]:
        return await organization_resolvers.memberships(info)


@strawberry.type
class PaymentIntentCreated:
    payment: Payment
    client_secret: str


@strawberry.type
class StripeEvent:
    id: str
    type: str
    status: models.StripeEventStatus
    livemode: bool
    object_id: str | None
    attempts: int
    last_error: str | None
    created: datetime = strawberry.field(description="Stripe's time of the event")
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime | None

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


@strawberry.type
class StripeEventReplayed:
    event: StripeEvent


@strawberry.type
class Order(Node):
    reference: str | None
    description: str | None
    amount: Money
    status: models.OrderStatus
    customer_email: str | None
    notify_emails: list[str]
    created_at: datetime
    updated_at: datetime
    model: strawberry.Private[models.Order]

    @strawberry.field
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


@strawberry.type
class OrderCreated:
    order: Order


@strawberry.type
class Refund(Node):
    amount: Money
    status: models.RefundStatus
    reason: str | None
    failure_reason: str | None
    stripe_refund_id: str | None
    created_at: datetime

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


@strawberry.type
class RefundCreated:
    refund: Refund
    payment: Payment


@strawberry.type
class HostNotificationsConfigured:
    url: str
    signing_secret: str = strawberry.field(
        description="verifies the Kassa-Signature header of every notification"
    )


@strawberry.type
class PaymentChanged:
    payment: Payment


@strawberry.type
class PaymentStatusTotal:
    status: models.PaymentStatus
    currency: str
    count: int
    volume: Money


@strawberry.type
class PaymentDayTotal:
    day: str = strawberry.field(description="YYYY-MM-DD, UTC")
    status: models.PaymentStatus
    currency: str
    count: int
    volume: Money


@strawberry.type
class CurrencyPaymentSummary:
    currency: str
    succeeded_count: int
    volume: Money
    refunded: Money
    refund_rate: DecimalText = strawberry.field(description="refunded / volume, 4 places")
    average_payment: Money


@strawberry.type
class PaymentStats:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    by_status: list[PaymentStatusTotal]
    by_day: list[PaymentDayTotal]
    currencies: list[CurrencyPaymentSummary]


@strawberry.type
class PaymentMethod(Node):
    card: CardSummary | None
    is_default: bool

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


@strawberry.type
class PaymentMethodChanged:
    payment_method: PaymentMethod


@strawberry.type
class SetupIntentCreated:
    setup_intent_id: str
    client_secret: str


@strawberry.type
class CheckoutStarted:
    payment: Payment
    session_id: str
    url: str = strawberry.field(description="Stripe's hosted payment page: send the customer here")


@strawberry.type
class CheckoutStatus:
    session_id: str
    status: str = strawberry.field(description="open | complete | expired")
    payment_status: str = strawberry.field(description="paid | unpaid | no_payment_required")
    payment: Payment | None


@strawberry.type
class CreditPackage:
    code: str
    name: str
    credits: int
    price: Money
    unit_price: DecimalText = strawberry.field(description="price per credit, exact to 8 places")


@strawberry.type
class CreditLot:
    id: strawberry.ID
    credits: int
    remaining: int = strawberry.field(description="not yet spent, expired or clawed back")
    expires_at: datetime
    model: strawberry.Private[models.CreditLot]

    @strawberry.field
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


@strawberry.enum
class CreditTransactionKind(Enum):
    PURCHASE = "PURCHASE"
    CONSUME = "CONSUME"
    EXPIRE = "EXPIRE"
    CLAWBACK = "CLAWBACK"
    GRANT = "GRANT"
    ADJUSTMENT = "ADJUSTMENT"


@strawberry.type
class CreditTransaction:
    id: strawberry.ID
    kind: CreditTransactionKind
    credits: int = strawberry.field(description="signed: negative when credits left the account")
    balance_after: int
    reason: str | None
    created_at: datetime
    entry: strawberry.Private[CreditEntry]

    @strawberry.field
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


@strawberry.type
class CreditAccount:
    balance: int = strawberry.field(
        description="credits that can be spent now: unexpired lots less any clawback debt"
    )
    lots: list[CreditLot]
    organization: strawberry.Private[models.Organization]

    @strawberry.field(description="Every change of the balance, newest first")
    async def transactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CreditTransaction]:
        return await credit_resolvers.transactions(info, self.organization, first, after)


@strawberry.type
class CreditsConsumed:
    transaction: CreditTransaction = strawberry.field(
        description="the CONSUME row (the first one again when the idempotency key repeats)"
    )
    balance: int = strawberry.field(description="credits that can be spent now")
