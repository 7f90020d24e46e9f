"""Prepaid credits: packages on sale, lots bought, the balance's movements, and spending."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from kassa import models
from kassa.ids import IdKind, decode, encode
from kassa.resolvers import credits as credit_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.schema.computed import computed, with_context
from kassa.schema.context import Context, Info
from kassa.schema.errors import UserError
from kassa.schema.money import Money
from kassa.schema.payments import (
    RECEIPT_EMAIL,
    RETRY_KEY,
    Payment,
    PaymentIntentCreated,
    PaymentIntentResult,
)
from kassa.schema.relay import After, Connection, First
from kassa.schema.scalars import DecimalText
from kassa.services.credits import BuyCredits, ConsumeCredits, CreditEntry


def _price(package: strawberry.Parent[models.CreditPackage]) -> Money:
    return Money.of_minor(package.price, package.currency)


def _unit_price(package: strawberry.Parent[models.CreditPackage]) -> DecimalText:
    return DecimalText(str(credit_resolvers.unit_price(package)))


@strawberry.type(description="A package of prepaid credits on sale")
class CreditPackage:
    code: str = strawberry.field(description="What buyCredits and startCheckout take: standard")
    name: str = strawberry.field(description="Its name, fit to show the customer")
    credits: int = strawberry.field(description="How many credits it fills a lot with")
    price: Money = computed(_price, description="What it costs")
    unit_price: DecimalText = computed(
        _unit_price, description="Price per credit, exact to 8 places"
    )


def _lot_id(lot: strawberry.Parent[models.CreditLot]) -> strawberry.ID:
    return strawberry.ID(encode(IdKind.CREDIT_LOT, lot.id))


def _lot_payment(
    context: Context, lot: models.CreditLot
) -> models.Payment | Awaitable[models.Payment | None] | None:
    return payment_resolvers.payment_by_id(context, lot.payment_id)  # type: ignore[attr-defined]


@strawberry.type(description="Credits bought in one payment; spent soonest-expiring lot first")
class CreditLot:
    id: strawberry.ID = computed(_lot_id, description="Opaque id of the lot (lot_…)")
    credits: int = strawberry.field(description="How many credits the package held")
    remaining: int = strawberry.field(description="Not yet spent, expired or clawed back")
    expires_at: datetime = strawberry.field(description="After this, what remains expires")
    payment: object = with_context(
        _lot_payment, graphql_type=Payment | None, description="The payment that bought it"
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


def _entry_id(entry: strawberry.Parent[CreditEntry]) -> strawberry.ID:
    return strawberry.ID(encode(IdKind.CREDIT_TRANSACTION, entry.id))


def _kind(entry: strawberry.Parent[CreditEntry]) -> CreditTransactionKind:
    return CreditTransactionKind(entry.kind.value)


def _entry_payment(
    context: Context, entry: CreditEntry
) -> models.Payment | Awaitable[models.Payment | None] | None:
    return payment_resolvers.payment_by_id(context, entry.payment_id)


@strawberry.type(description="One change of the credit balance")
class CreditTransaction:
    """Shown over the services' `CreditEntry`."""

    id: strawberry.ID = computed(_entry_id, description="Opaque id of this change (ctx_…)")
    kind: CreditTransactionKind = computed(_kind, description="Why the credits moved")
    credits: int = strawberry.field(description="Signed: negative when credits left the account")
    balance_after: int = strawberry.field(description="The credit balance right after it")
    reason: str | None = strawberry.field(
        description="What a CONSUME paid for, as consumeCredits was told"
    )
    created_at: datetime = strawberry.field(description="When the credits moved")
    payment: object = with_context(
        _entry_payment,
        graphql_type=Payment | None,
        description="The payment that bought the credits; null for CONSUME",
    )


@strawberry.type(description="An organization's prepaid credits")
class CreditAccount:
    balance: int = strawberry.field(
        description="Credits that can be spent now: unexpired lots less any clawback debt"
    )
    lots: list[models.CreditLot] = strawberry.field(
        graphql_type=list[CreditLot],
        description="Its lots, soonest-expiring first (expired ones too)",
    )
    organization: strawberry.Private[models.Organization]

    @strawberry.field(
        description="Every change of the balance, newest first",
        graphql_type=Connection[CreditTransaction],
    )
    async def transactions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[CreditEntry]:
        page = await credit_resolvers.transactions(info.context, self.organization, first, after)
        return Connection.of(page)


async def credit_account(info: Info, organization: models.Organization) -> CreditAccount:
    state = await credit_resolvers.credit_account(info.context, organization)
    return CreditAccount(balance=state.balance, lots=state.lots, organization=organization)


@strawberry.type(description="consumeCredits spent the credits")
class CreditsConsumed:
    transaction: CreditEntry = strawberry.field(
        graphql_type=CreditTransaction,
        description="The CONSUME row (the first one again when the idempotency key repeats)",
    )
    balance: int = strawberry.field(description="Credits that can be spent now")


CreditsResult = Annotated[
    CreditsConsumed | UserError,
    strawberry.union(
        "CreditsResult", description="What consumeCredits answers: CreditsConsumed, or a UserError"
    ),
]


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


@strawberry.type
class CreditQuery:
    @strawberry.field(
        description="The credit packages on sale, cheapest first",
        graphql_type=list[CreditPackage],
    )
    async def credit_packages(self) -> list[models.CreditPackage]:
        return await credit_resolvers.packages()


@strawberry.type
class CreditMutation:
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
        created = await credit_resolvers.buy_credits(info.context, input.to_request())
        return PaymentIntentCreated(payment=created.payment, client_secret=created.client_secret)

    @strawberry.mutation(
        description="Spend credits, soonest-expiring lots first; members and API keys. "
        "Errors: NOT_FOUND, INVALID_INPUT, INSUFFICIENT_CREDITS, IDEMPOTENCY_KEY_REUSED"
    )
    async def consume_credits(
        self,
        info: Info,
        input: Annotated[ConsumeCreditsInput, strawberry.argument(description="What to spend")],
    ) -> CreditsResult:
        consumed = await credit_resolvers.consume_credits(info.context, input.to_request())
        return CreditsConsumed(transaction=consumed.transaction, balance=consumed.balance)
