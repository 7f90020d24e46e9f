from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from kassa import models
from kassa.resolvers.loading import prime
from kassa.services import credits, payments
from kassa.services.pagination import Page
from kassa.services.payments import PaymentIntentCreated

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def packages() -> list[models.CreditPackage]:
    return await credits.active_packages()


def unit_price(package: models.CreditPackage) -> Decimal:
    return credits.unit_price(package)


async def credit_account(
    context: Context, organization: models.Organization
) -> credits.CreditState:
    state = await credits.state(organization)
    await _prime_payments(context, [lot.payment_id for lot in state.lots])  # type: ignore[attr-defined]
    return state


async def transactions(
    context: Context, organization: models.Organization, first: int | None, after: str | None
) -> Page[credits.CreditEntry]:
    page = await credits.entries(organization, first, after)
    await _prime_payments(context, [entry.payment_id for _, entry in page.items])
    return page


async def _prime_payments(context: Context, ids: list[uuid.UUID | None]) -> None:
    # The rows' payments in one query, so that each row's `payment` is answered at once.
    keys = list({key for key in ids if key is not None})
    if keys:
        prime(context.loaders.payment, dict(zip(keys, await payments.by_ids(keys), strict=True)))


async def consume_credits(context: Context, request: credits.ConsumeCredits) -> credits.Consumed:
    return await credits.consume_credits(context.require_caller(), request)


async def buy_credits(context: Context, request: credits.BuyCredits) -> PaymentIntentCreated:
    runtime = context.runtime
    return await credits.buy_credits(
        context.require_caller(), runtime.gateway, request, runtime.settings.credit_expiry_days
    )
