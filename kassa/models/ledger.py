from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization
    from kassa.models.payment import Payment


class AccountKind(StrEnum):
    WALLET = "wallet"
    CREDITS = "credits"
    STRIPE_CLEARING = "stripe_clearing"
    WALLET_SPEND = "wallet_spend"
    # What an organization has sold through orders, per currency.
    SALES = "sales"
    CREDITS_ISSUED = "credits_issued"
    CREDITS_CONSUMED = "credits_consumed"
    CREDITS_EXPIRED = "credits_expired"
    CREDITS_CLAWED_BACK = "credits_clawed_back"


class TransferKind(StrEnum):
    TOP_UP = "TOP_UP"
    PURCHASE = "PURCHASE"
    SALE = "SALE"
    DEBIT = "DEBIT"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"
    CONSUME = "CONSUME"
    EXPIRE = "EXPIRE"
    CLAWBACK = "CLAWBACK"


class LedgerAccount(Model):
    """One side of the double-entry ledger. `balance` caches the sum of its transfers."""

    id = fields.BigIntField(primary_key=True)
    # "wallet:usd@<organization id>" or "stripe_clearing:usd": one row per key, ever.
    key = fields.CharField(max_length=255, unique=True)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="accounts", null=True, on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(AccountKind, max_length=32)
    unit = fields.CharField(max_length=16)
    balance = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_accounts"


class LedgerTransfer(Model):
    """An immutable movement of `amount` from the debit account to the credit account."""

    id = fields.UUIDField(primary_key=True)
    debit_account: fields.ForeignKeyRelation[LedgerAccount] = fields.ForeignKeyField(
        "kassa.LedgerAccount", related_name="debits", on_delete=fields.RESTRICT
    )
    credit_account: fields.ForeignKeyRelation[LedgerAccount] = fields.ForeignKeyField(
        "kassa.LedgerAccount", related_name="credits", on_delete=fields.RESTRICT
    )
    amount = fields.BigIntField()
    unit = fields.CharField(max_length=16)
    kind = fields.CharEnumField(TransferKind, max_length=32)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "kassa.Payment", related_name="transfers", null=True, on_delete=fields.RESTRICT
    )
    idempotency_key = fields.CharField(max_length=255, unique=True)
    debit_balance_after = fields.BigIntField()
    credit_balance_after = fields.BigIntField()
    reason = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_transfers"
        indexes = (("debit_account_id", "created_at"), ("credit_account_id", "created_at"))
        constraints = (
            CheckConstraint(check="amount > 0", name="ledger_transfers_amount_positive"),
            CheckConstraint(
                check="debit_account_id <> credit_account_id",
                name="ledger_transfers_distinct_accounts",
            ),
        )
