"""Wallets: an organization's money in one currency, its movements, and debits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from kassa import models
from kassa.ids import IdKind, decode, encode
from kassa.resolvers import wallets as wallet_resolvers
from kassa.schema.computed import computed
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.money import Money
from kassa.schema.payments import Payment
from kassa.schema.relay import After, Connection, First
from kassa.schema.scalars import DecimalText
from kassa.services.rows import PaymentRow
from kassa.services.wallets import DebitRequest, WalletAccount, WalletEntry

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


def _id(entry: strawberry.Parent[WalletEntry]) -> strawberry.ID:
    return strawberry.ID(encode(IdKind.WALLET_TRANSACTION, entry.id))


def _amount(entry: strawberry.Parent[WalletEntry]) -> Money:
    return Money.of(entry.amount)


def _balance_after(entry: strawberry.Parent[WalletEntry]) -> Money:
    return Money.of(entry.balance_after)


@strawberry.type(description="One movement of money into or out of a wallet")
class WalletTransaction:
    """Shown over the services' `WalletEntry`."""

    id: strawberry.ID = computed(_id, description="Opaque id of this movement (wtx_…)")
    kind: models.TransferKind = strawberry.field(description="Why the money moved")
    amount: Money = computed(_amount, description="Signed: negative when money left the wallet")
    balance_after: Money = computed(
        _balance_after, description="The wallet's balance right after it"
    )
    created_at: datetime = strawberry.field(description="When the money moved")
    reason: str | None = strawberry.field(
        default=None, description="What a DEBIT paid for, as debitWallet was told; else null"
    )
    payment: PaymentRow | None = strawberry.field(
        graphql_type=Payment | None,
        description="The payment that caused it (TOP_UP, REFUND); else null",
    )


@strawberry.type(description="An organization's money in one currency")
class Wallet:
    currency: str = strawberry.field(description="Lower-case ISO 4217 code: usd")
    balance: Money = strawberry.field(
        description="What the wallet holds as booked in the ledger (zero for a new one)"
    )
    account: strawberry.Private[WalletAccount]

    @strawberry.field(
        description="Every movement of the balance, newest first",
        graphql_type=Connection[WalletTransaction],
    )
    async def transactions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WalletEntry]:
        return Connection.of(await wallet_resolvers.transactions(self.account, first, after))


@strawberry.type(description="debitWallet took the money")
class WalletDebited:
    transaction: WalletEntry = strawberry.field(
        graphql_type=WalletTransaction,
        description="The DEBIT row (the first one again when the idempotency key repeats)",
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


async def wallet(info: Info, organization: models.Organization, currency: str) -> Wallet:
    account = await wallet_resolvers.account(organization, currency)
    balance = account.balance
    return Wallet(currency=balance.currency, balance=Money.of(balance), account=account)


@strawberry.type
class WalletMutation:
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
        entry = await wallet_resolvers.debit_wallet(info.context, input.to_request())
        return WalletDebited(transaction=entry)
