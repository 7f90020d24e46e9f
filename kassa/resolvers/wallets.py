from __future__ import annotations

from kassa import models
from kassa.money import MoneyError
from kassa.resolvers.connections import connection
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import wallets
from kassa.services.errors import DomainError, ErrorCode


async def wallet(info: gql.Info, organization: models.Organization, currency: str) -> gql.Wallet:
    try:
        balance = await wallets.balance(organization, currency)
    except MoneyError as exc:
        raise query_error(
            DomainError(ErrorCode.UNSUPPORTED_CURRENCY, str(exc), "currency")
        ) from exc
    return gql.Wallet(
        currency=balance.currency, balance=gql.Money.of(balance), organization=organization
    )


async def transactions(
    info: gql.Info, wallet: gql.Wallet, first: int | None, after: str | None
) -> gql.Connection[gql.WalletTransaction]:
    try:
        page = await wallets.entries(wallet.organization, wallet.currency, first, after)
    except DomainError as exc:
        raise query_error(exc) from exc
    return connection(page, gql.WalletTransaction.of)


async def debit_wallet(
    info: gql.Info, request: wallets.DebitRequest
) -> gql.WalletDebited | UserError:
    try:
        entry = await wallets.debit(info.context.require_caller(), request)
    except DomainError as exc:
        return UserError.of(exc)
    return gql.WalletDebited(transaction=gql.WalletTransaction.of(entry))
