"""Invoices: the document of each paid payment, numbered per organization, as a PDF."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind
from kassa.resolvers import invoices as invoice_resolvers
from kassa.schema.context import Info
from kassa.schema.money import Money
from kassa.schema.relay import Node, global_id
from kassa.services import invoice_links, invoices

if TYPE_CHECKING:
    from kassa.schema.payments import Payment

LazyPayment = Annotated["Payment", strawberry.lazy("kassa.schema.payments")]


def _number(invoice: strawberry.Parent[models.Invoice]) -> str:
    return invoice.number or ""


def _total(invoice: strawberry.Parent[models.Invoice]) -> Money:
    return Money.of_minor(invoice.total, invoice.currency)


def _pdf_url(invoice: strawberry.Parent[models.Invoice]) -> str:
    return invoice_links.path(invoice.id)


def _payment(
    invoice: strawberry.Parent[models.Invoice], info: Info
) -> models.Payment | Awaitable[models.Payment | None] | None:
    return invoice_resolvers.payment_of_invoice(info.context, invoice)


async def _status(invoice: strawberry.Parent[models.Invoice], info: Info) -> str:
    paid = invoice_resolvers.payment_of_invoice(info.context, invoice)
    payment = await paid if isinstance(paid, Awaitable) else paid
    return invoices.status_of(payment)


@strawberry.type(
    description="The invoice of a paid payment, numbered per organization without gaps; "
    "what it shows is fixed when it is issued"
)
class Invoice(Node):
    """Shown over the `models.Invoice` row itself."""

    id: strawberry.ID = global_id(IdKind.INVOICE)
    number: str = strawberry.field(
        resolver=_number,
        description="Its number: the organization's prefix and 1, 2, 3 … (7C1E04AA-000042)",
    )
    status: str = strawberry.field(
        resolver=_status,
        description="paid, partially_refunded or refunded, as its payment's refunds stand now "
        "(the PDF stays as issued)",
    )
    total: Money = strawberry.field(resolver=_total, description="What was paid, tax included")
    payment: object = strawberry.field(
        resolver=_payment,
        graphql_type=LazyPayment | None,
        description="The payment it is the invoice of",
    )
    pdf_url: str = strawberry.field(
        resolver=_pdf_url,
        description="Path of its PDF: GET it with the caller's token or API key "
        "(receipt mails carry a signed link)",
    )
    created_at: datetime = strawberry.field(description="When it was issued")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.Invoice)
