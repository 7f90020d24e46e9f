"""Invoices: one per succeeded payment, issued in the transaction that books the payment.

Numbers run 1, 2, 3 … per organization without gaps. A number is taken from the
organization's counter row (`invoice_counters`) in the issuing transaction, which holds
that row locked until it ends: a transaction that rolls back gives its number back, and the
next one takes it. A batch of Stripe events (`deferring_numbers`) issues its invoices
unnumbered and numbers them all at its end, locking the counters in organization order, so
that two batches never wait on each other's counters in opposite orders and a counter is
held only from then to the commit, as the ledger does with balances.

An invoice's `document` is what its PDF shows, frozen when it is issued.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.config import Settings
from kassa.ids import IdKind, encode
from kassa.models import (
    CreditPackage,
    CreditPlan,
    Invoice,
    InvoiceSeller,
    Order,
    Organization,
    Payment,
    PaymentPurpose,
)
from kassa.money import Money
from kassa.services import clock, organizations
from kassa.services.identity import Caller
from kassa.services.pagination import Page, paginate

DOCUMENT_VERSION = 1
SELLER_KEY = "default"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an invoice; `amount` is the line's total in minor units."""

    description: str
    amount: int
    quantity: int = 1
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Seller:
    name: str
    address: str = ""
    tax_id: str = ""
    tax_label: str = "Tax"
    # Tax included in every price, in hundredths of a percent (810 = 8.1 %).
    tax_rate_bp: int = 0

    @property
    def shown(self) -> dict[str, str]:
        """What an invoice shows of its seller."""
        return {"name": self.name, "address": self.address, "tax_id": self.tax_id}

    def tax_in(self, total: int) -> int:
        """The tax a tax-inclusive `total` holds, rounded half up to the minor unit."""
        divisor = 10_000 + self.tax_rate_bp
        return (2 * total * self.tax_rate_bp + divisor) // (2 * divisor)


def configured_seller(settings: Settings) -> Seller:
    return Seller(
        name=settings.seller_name,
        address=settings.seller_address,
        tax_id=settings.seller_tax_id,
        tax_label=settings.invoice_tax_label,
        tax_rate_bp=int((settings.invoice_tax_rate * 100).to_integral_value()),
    )


async def sync_seller(seller: Seller) -> None:
    """Make the configured seller the one new invoices name (at each start), and the one of
    invoices issued before kassa knew a seller (those of payments paid before invoices)."""
    await connections.get("default").execute_query(
        "UPDATE invoices SET document = jsonb_set(document, '{seller}', $1::jsonb) "
        "WHERE document->'seller' = 'null'::jsonb",
        [json.dumps(seller.shown)],
    )
    await InvoiceSeller.update_or_create(
        key=SELLER_KEY,
        defaults={
            "name": seller.name,
            "address": seller.address,
            "tax_id": seller.tax_id,
            "tax_label": seller.tax_label,
            "tax_rate_bp": seller.tax_rate_bp,
        },
    )


async def _seller(conn: BaseDBAsyncClient) -> Seller:
    row = await InvoiceSeller.filter(key=SELLER_KEY).using_db(conn).first()
    if row is None:  # never started with a configuration: an invoice without a seller
        return Seller(name="")
    return Seller(row.name, row.address, row.tax_id, row.tax_label, row.tax_rate_bp)


async def lines_for(conn: BaseDBAsyncClient, payment: Payment) -> list[Line]:
    """What `payment` bought, as invoice lines."""
    if payment.purpose is PaymentPurpose.WALLET_TOP_UP:
        return [Line(f"Wallet top-up ({payment.currency.upper()})", payment.amount)]
    if payment.purpose is PaymentPurpose.CREDIT_PACKAGE:
        return [await _package_line(conn, payment)]
    if payment.purpose is PaymentPurpose.ORDER:
        return [await _order_line(conn, payment)]
    if payment.purpose is PaymentPurpose.SUBSCRIPTION:
        return [await _plan_line(conn, payment)]
    return [Line("Payment", payment.amount)]


async def _package_line(conn: BaseDBAsyncClient, payment: Payment) -> Line:
    # The package as bought, even if the catalog has renamed or dropped it since.
    code = payment.credit_package_code
    package = await CreditPackage.filter(code=code).using_db(conn).first()
    name = package.name if package else (code or "Credits")
    return Line(name, payment.amount, detail=f"{payment.credits or 0:,} credits")


async def _plan_line(conn: BaseDBAsyncClient, payment: Payment) -> Line:
    # The plan version the Stripe invoice charged for (a proration: its share of it).
    plan = await CreditPlan.filter(stripe_price_id=payment.stripe_price_id).using_db(conn).first()
    name = f"{plan.name} (subscription)" if plan else "Subscription"
    return Line(name, payment.amount, detail=f"{payment.credits or 0:,} credits")


async def _order_line(conn: BaseDBAsyncClient, payment: Payment) -> Line:
    order_id = payment.order_id  # type: ignore[attr-defined]
    order = await Order.filter(id=order_id).using_db(conn).first() if order_id else None
    if order is None:
        return Line("Order", payment.amount)
    reference = f"Reference {order.reference}" if order.reference else None
    return Line(order.description or order.reference or "Order", payment.amount, detail=reference)


async def issue(
    conn: BaseDBAsyncClient,
    payment: Payment,
    lines: Sequence[Line] | None = None,
    *,
    subscription_id: uuid.UUID | None = None,
    stripe_invoice_id: str | None = None,
) -> Invoice:
    """The invoice of a succeeded, locked `payment`: issued and numbered now (or at the end
    of the batch), or the one it has already."""
    existing = await Invoice.filter(payment_id=payment.id).using_db(conn).first()
    if existing is not None:
        return existing
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    chosen = list(lines) if lines is not None else await lines_for(conn, payment)
    seller = await _seller(conn)
    organization = await Organization.filter(id=organization_id).using_db(conn).get()
    issued_at = payment.paid_at or clock.now()
    invoice = await Invoice.create(
        using_db=conn,
        organization_id=organization_id,
        payment_id=payment.id,
        currency=payment.currency,
        total=payment.amount,
        tax=seller.tax_in(payment.amount),
        document=_document(seller, organization, payment, chosen, issued_at),
        subscription_id=subscription_id,
        stripe_invoice_id=stripe_invoice_id,
        issued_at=issued_at,
    )
    deferred = _deferred.get()
    if deferred is not None:
        deferred.issued = True
        return invoice
    await number_pending(conn)
    await invoice.refresh_from_db(fields=["sequence", "number"], using_db=conn)
    return invoice


def _document(
    seller: Seller,
    organization: Organization,
    payment: Payment,
    lines: Sequence[Line],
    issued_at: datetime,
) -> dict[str, Any]:
    card = f"{payment.card_brand} ending {payment.card_last4}" if payment.card_last4 else None
    return {
        "version": DOCUMENT_VERSION,
        "issued_at": issued_at.isoformat(),
        "seller": seller.shown,
        "buyer": {
            "name": organization.name,
            "email": organization.billing_email or payment.receipt_email,
        },
        "currency": payment.currency,
        "lines": [asdict(line) for line in lines],
        "subtotal": sum(line.amount for line in lines),
        "tax": {
            "label": seller.tax_label,
            "rate_bp": seller.tax_rate_bp,
            "amount": seller.tax_in(payment.amount),
        },
        "total": payment.amount,
        "paid": {"card": card, "payment_id": encode(IdKind.PAYMENT, payment.id)},
    }


@dataclass(slots=True)
class DeferredNumbers:
    """Invoices issued in a batch, numbered together at its end."""

    issued: bool = False

    async def apply(self, conn: BaseDBAsyncClient) -> None:
        if self.issued:
            await number_pending(conn)
            self.issued = False


_deferred: ContextVar[DeferredNumbers | None] = ContextVar("invoice_numbers", default=None)


@contextmanager
def deferring_numbers() -> Iterator[DeferredNumbers]:
    """Invoices issued inside (in this task) stay unnumbered until `apply`, which the
    caller runs before its transaction commits."""
    deferred = DeferredNumbers()
    token = _deferred.set(deferred)
    try:
        yield deferred
    finally:
        _deferred.reset(token)


async def number_pending(conn: BaseDBAsyncClient) -> None:
    """Number this transaction's unnumbered invoices, oldest first per organization.

    Unnumbered invoices are only ever this transaction's own: every other transaction
    numbers its invoices before it commits, and its uncommitted rows are invisible here.
    Invoices rolled back to a savepoint are gone with their rows; nothing to forget.
    """
    await conn.execute_query(NUMBER_PENDING)


# One statement: raise each organization's counter by its count of new invoices (counters
# created on first use, locked in organization order) and give the invoices the numbers
# below the new value, in the order they were issued.
NUMBER_PENDING = (
    "WITH pending AS (SELECT id, organization_id, row_number() OVER "
    "(PARTITION BY organization_id ORDER BY created_at, id) AS nth FROM invoices "
    "WHERE sequence IS NULL), "
    "wanted AS (SELECT organization_id, count(*)::int AS n FROM pending "
    "GROUP BY organization_id ORDER BY organization_id), "
    "counted AS (INSERT INTO invoice_counters (organization_id, last_sequence) "
    "SELECT organization_id, n FROM wanted ORDER BY organization_id "
    "ON CONFLICT (organization_id) DO UPDATE "
    "SET last_sequence = invoice_counters.last_sequence + EXCLUDED.last_sequence "
    "RETURNING organization_id, last_sequence) "
    "UPDATE invoices i SET sequence = c.last_sequence - w.n + p.nth, "
    "number = upper(left(replace(p.organization_id::text, '-', ''), 8)) || '-' || "
    "lpad((c.last_sequence - w.n + p.nth)::text, "
    "greatest(6, length((c.last_sequence - w.n + p.nth)::text)), '0') "
    "FROM pending p JOIN wanted w USING (organization_id) "
    "JOIN counted c USING (organization_id) WHERE i.id = p.id"
)


def status_of(payment: Payment | None) -> str:
    """paid, partially_refunded or refunded, as the payment's refunds stand."""
    if payment is None or payment.amount_refunded <= 0:
        return "paid"
    return "refunded" if payment.amount_refunded >= payment.amount else "partially_refunded"


def total_of(invoice: Invoice) -> Money:
    return Money.of_minor(invoice.total, invoice.currency)


async def visible_invoice(caller: Caller, invoice_id: uuid.UUID | None) -> Invoice | None:
    """The invoice if the caller may see its organization's; None for missing and foreign."""
    if invoice_id is None:
        return None
    invoice = await Invoice.get_or_none(id=invoice_id).prefetch_related("organization")
    if invoice is None or not organizations.can_view(caller, invoice.organization):
        return None
    return invoice


async def by_id(invoice_id: uuid.UUID) -> Invoice | None:
    return await Invoice.get_or_none(id=invoice_id)


async def organization_invoices(
    organization: Organization, first: int | None, after: str | None
) -> Page[Invoice]:
    return await paginate(Invoice.filter(organization=organization), first, after)


async def subscription_invoices(
    subscription_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Invoice]:
    return await paginate(Invoice.filter(subscription_id=subscription_id), first, after)


async def of_payments(keys: Sequence[uuid.UUID]) -> list[Invoice | None]:
    """Each payment's invoice, in the order asked, for a per-request DataLoader."""
    found = {
        invoice.payment_id: invoice  # type: ignore[attr-defined]
        for invoice in await Invoice.filter(payment_id__in=list(keys))
    }
    return [found.get(key) for key in keys]
