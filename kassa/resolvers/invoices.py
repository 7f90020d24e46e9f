from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers.loading import loaded
from kassa.services import invoices
from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def invoice(context: Context, id: str) -> models.Invoice | None:
    caller = context.caller
    if caller is None:
        return None
    return await invoices.visible_invoice(caller, decode(IdKind.INVOICE, id))


async def organization_invoices(
    organization: models.Organization, first: int | None, after: str | None
) -> Page[models.Invoice]:
    return await invoices.organization_invoices(organization, first, after)


def invoice_of_payment(
    context: Context, payment: models.Payment
) -> models.Invoice | Awaitable[models.Invoice | None] | None:
    return loaded(context.loaders.payment_invoice, payment.id)


def payment_of_invoice(
    context: Context, invoice: models.Invoice
) -> models.Payment | Awaitable[models.Payment | None] | None:
    payment_id = invoice.payment_id  # type: ignore[attr-defined]
    return loaded(context.loaders.payment, payment_id) if payment_id else None
