from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.money import Money, MoneyError
from kassa.resolvers.loading import prime
from kassa.services import payments, wallets
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def balance(organization: models.Organization, currency: str) -> Money:
    try:
        return await wallets.balance(organization, currency)
    except MoneyError as exc:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, str(exc), "currency") from exc


async def transactions(
    context: Context,
    organization: models.Organization,
    currency: str,
    first: int | None,
    after: str | None,
) -> Page[wallets.WalletEntry]:
    page = await wallets.entries(organization, currency, first, after)
    keys = list({entry.payment_id for _, entry in page.items if entry.payment_id})
    if keys:
        # The rows' payments in one query, so that each row's `payment` is answered at once.
        prime(context.loaders.payment, dict(zip(keys, await payments.by_ids(keys), strict=True)))
    return page


async def debit_wallet(context: Context, request: wallets.DebitRequest) -> wallets.WalletEntry:
    return await wallets.debit(context.require_caller(), request)
