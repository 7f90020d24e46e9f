from __future__ import annotations

from kassa import models
from kassa.money import Money
from kassa.resolvers.connections import connection
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.schema.scalars import DecimalText
from kassa.services import credits
from kassa.services.errors import DomainError


async def packages(info: gql.Info) -> list[gql.CreditPackage]:
    return [
        gql.CreditPackage(
            code=package.code,
            name=package.name,
            credits=package.credits,
            price=gql.Money.of(Money.of_minor(package.price, package.currency)),
            unit_price=DecimalText(str(credits.unit_price(package))),
        )
        for package in await credits.active_packages()
    ]


async def credit_account(info: gql.Info, organization: models.Organization) -> gql.CreditAccount:
    state = await credits.state(organization)
    return gql.CreditAccount(
        balance=state.balance,
        lots=[gql.CreditLot.of(lot) for lot in state.lots],
        organization=organization,
    )


async def transactions(
    info: gql.Info, organization: models.Organization, first: int | None, after: str | None
) -> gql.Connection[gql.CreditTransaction]:
    try:
        page = await credits.entries(organization, first, after)
    except DomainError as exc:
        raise query_error(exc) from exc
    return connection(page, gql.CreditTransaction.of)


async def consume_credits(
    info: gql.Info, request: credits.ConsumeCredits
) -> gql.CreditsConsumed | UserError:
    try:
        consumed = await credits.consume_credits(info.context.require_caller(), request)
    except DomainError as exc:
        return UserError.of(exc)
    return gql.CreditsConsumed(
        transaction=gql.CreditTransaction.of(consumed.transaction), balance=consumed.balance
    )


async def buy_credits(
    info: gql.Info, request: credits.BuyCredits
) -> gql.PaymentIntentCreated | UserError:
    caller = info.context.require_caller()
    runtime = info.context.runtime
    try:
        created = await credits.buy_credits(
            caller,
            runtime.gateway,
            request,
            runtime.settings.credit_expiry_days,
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentIntentCreated(
        payment=gql.Payment.of(created.payment), client_secret=created.client_secret
    )
