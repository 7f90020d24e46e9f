"""An organization's wallet: its balance, the ledger rows that moved it, and debits by
host apps (never below zero, once per idempotency key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.db import fetch
from kassa.models import (
    LedgerTransfer,
    Organization,
    PaymentPurpose,
    RefundStatus,
    TransferKind,
)
from kassa.money import Money, normalize_currency
from kassa.services import organizations
from kassa.services.errors import DomainError, ErrorCode, check_reason
from kassa.services.identity import Caller
from kassa.services.ledger import (
    Transfer,
    account_id,
    apply_deferred,
    as_seen_by,
    client_key,
    post_transfer,
    repeated,
    wallet_account,
    wallet_spend_account,
    wallets_scope,
)
from kassa.services.pagination import Page, RowQuery, paginate_rows
from kassa.services.payments import charge_amount, check_idempotency_key
from kassa.services.rows import PaymentRow, payment_columns, payment_row


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One transfer as the wallet sees it: signed amount, the wallet's balance after, and
    the payment that caused it (a top-up or its refund), read with it."""

    id: uuid.UUID
    kind: TransferKind
    amount: Money
    balance_after: Money
    created_at: datetime
    reason: str | None = None
    payment: PaymentRow | None = None


@dataclass(frozen=True, slots=True)
class WalletAccount:
    """A wallet's ledger account, read once per request: its id (None while the wallet was
    never used) and its balance as booked."""

    id: int | None
    balance: Money


async def account(organization: Organization, currency: str) -> WalletAccount:
    currency = normalize_currency(currency)
    rows = await fetch(
        "SELECT id, balance FROM ledger_accounts WHERE key = $1",
        wallet_account(organization.id, currency).key,
    )
    if not rows:
        return WalletAccount(None, Money.of_minor(0, currency))
    return WalletAccount(rows[0]["id"], Money.of_minor(rows[0]["balance"], currency))


# The transfer as the account sees it, then its payment's columns.
_ENTRY_COLUMNS = (
    "t.id, t.kind, CASE WHEN t.credit_account_id = $1 THEN t.amount ELSE -t.amount END, "
    "CASE WHEN t.credit_account_id = $1 THEN t.credit_balance_after "
    "ELSE t.debit_balance_after END, t.created_at, t.reason, " + payment_columns("p")
)
_ENTRY_SOURCE = (
    "FROM ledger_transfers t LEFT JOIN payments p ON p.id = t.payment_id "
    "WHERE (t.debit_account_id = $1 OR t.credit_account_id = $1)"
)


async def entries(
    account: WalletAccount, first: int | None, after: str | None
) -> Page[WalletEntry]:
    """A page of the wallet's transfers, each with its payment, in one statement."""
    if account.id is None:
        return Page([], False)
    currency = account.balance.currency
    query = RowQuery(_ENTRY_COLUMNS, _ENTRY_SOURCE, [account.id], "t")
    return await paginate_rows(query, first, after, lambda row: _listed_entry(row, currency))


def _listed_entry(row: asyncpg.Record, currency: str) -> WalletEntry:
    return WalletEntry(
        id=row[0],
        kind=TransferKind(row[1]),
        amount=Money.of_minor(row[2], currency),
        balance_after=Money.of_minor(row[3], currency),
        created_at=row[4],
        reason=row[5],
        payment=payment_row(row[6:]),
    )


def _entry(row: LedgerTransfer, account_id: int, currency: str) -> WalletEntry:
    amount, after = as_seen_by(row, account_id)
    return WalletEntry(
        id=row.id,
        kind=row.kind,
        amount=Money.of_minor(amount, currency),
        balance_after=Money.of_minor(after, currency),
        created_at=row.created_at,
        reason=row.reason,
    )


@dataclass(frozen=True, slots=True)
class DebitRequest:
    organization_id: uuid.UUID | None
    amount: str
    currency: str
    reason: str
    idempotency_key: str


async def spendable(
    conn: BaseDBAsyncClient, organization_id: uuid.UUID, currency: str
) -> tuple[int, int]:
    """Lock the wallet's row (debits and top-up refunds take turns on it); its id and what
    it can still give: the balance less top-up refunds on their way through Stripe."""
    wallet_id = await account_id(conn, wallet_account(organization_id, currency))
    await apply_deferred(conn)
    rows = await conn.execute_query_dict(
        "SELECT balance FROM ledger_accounts WHERE id = $1 FOR NO KEY UPDATE", [wallet_id]
    )
    pending = await conn.execute_query_dict(
        "SELECT coalesce(sum(r.amount), 0) AS held FROM refunds r "
        "JOIN payments p ON p.id = r.payment_id "
        "WHERE p.organization_id = $1 AND p.purpose = $2 AND p.currency = $3 "
        "AND r.status = ANY($4::text[])",
        [
            organization_id,
            PaymentPurpose.WALLET_TOP_UP.value,
            currency,
            [RefundStatus.PENDING.value, RefundStatus.REQUIRES_ACTION.value],
        ],
    )
    return wallet_id, int(rows[0]["balance"]) - int(pending[0]["held"])


async def debit(caller: Caller, request: DebitRequest) -> WalletEntry:
    """Take money out of the wallet for something the host app sold from it."""
    organization = await organizations.require_visible(caller, request.organization_id)
    money = charge_amount(request.amount, request.currency)
    check_reason(request.reason)
    check_idempotency_key(request.idempotency_key)
    wallet = wallet_account(organization.id, money.currency)
    key = client_key(wallets_scope(organization.id), "debit", request.idempotency_key)
    async with in_transaction() as conn:
        wallet_id, available = await spendable(conn, organization.id, money.currency)
        earlier = await repeated(conn, key, money.minor, money.currency, request.reason, "debit")
        if earlier is not None:
            return _entry(earlier, wallet_id, money.currency)
        if available < money.minor:
            left = Money.of_minor(max(available, 0), money.currency).format()
            raise DomainError(
                ErrorCode.INSUFFICIENT_BALANCE,
                f"the wallet can spend {left} {money.currency.upper()}",
                "amount",
            )
        posted = await post_transfer(
            conn,
            Transfer(
                debit=wallet,
                credit=wallet_spend_account(money.currency),
                amount=money.minor,
                kind=TransferKind.DEBIT,
                idempotency_key=key,
                reason=request.reason,
            ),
        )
        if not posted.created:
            # The same key in another currency, whose wallet this one did not wait for.
            await repeated(conn, key, money.minor, money.currency, request.reason, "debit")
        transfer = await LedgerTransfer.filter(id=posted.transfer_id).using_db(conn).get()
    return _entry(transfer, wallet_id, money.currency)
