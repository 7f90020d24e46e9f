"""Reading an organization's wallet: balance and the ledger rows that moved it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from kassa.models import LedgerAccount, LedgerTransfer, Organization, TransferKind
from kassa.money import Money, normalize_currency
from kassa.services.ledger import history, wallet_account
from kassa.services.pagination import Page


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One transfer as the wallet sees it: signed amount and the wallet's balance after."""

    id: uuid.UUID
    kind: TransferKind
    amount: Money
    balance_after: Money
    payment_id: uuid.UUID | None
    created_at: datetime


async def balance(organization: Organization, currency: str) -> Money:
    currency = normalize_currency(currency)
    account = await LedgerAccount.get_or_none(key=wallet_account(organization.id, currency).key)
    return Money.of_minor(account.balance if account else 0, currency)


async def entries(
    organization: Organization, currency: str, first: int | None, after: str | None
) -> Page[WalletEntry]:
    currency = normalize_currency(currency)
    account_id, page = await history(wallet_account(organization.id, currency), first, after)
    return Page(
        [(cursor, _entry(row, account_id, currency)) for cursor, row in page.items],
        page.has_next_page,
    )


def _entry(row: LedgerTransfer, account_id: int, currency: str) -> WalletEntry:
    incoming = row.credit_account_id == account_id  # type: ignore[attr-defined]
    after = row.credit_balance_after if incoming else row.debit_balance_after
    return WalletEntry(
        id=row.id,
        kind=row.kind,
        amount=Money.of_minor(row.amount if incoming else -row.amount, currency),
        balance_after=Money.of_minor(after, currency),
        payment_id=row.payment_id,  # type: ignore[attr-defined]
        created_at=row.created_at,
    )
