from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.money import MoneyError
from kassa.services import wallets
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def account(organization: models.Organization, currency: str) -> wallets.WalletAccount:
    try:
        return await wallets.account(organization, currency)
    except MoneyError as exc:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, str(exc), "currency") from exc


async def transactions(
    account: wallets.WalletAccount, first: int | None, after: str | None
) -> Page[wallets.WalletEntry]:
    return await wallets.entries(account, first, after)


async def debit_wallet(context: Context, request: wallets.DebitRequest) -> wallets.WalletEntry:
    return await wallets.debit(context.require_caller(), request)
