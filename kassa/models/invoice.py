from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization
    from kassa.models.payment import Payment


class Invoice(Model):
    """The document of one paid payment, numbered per organization without gaps.

    `document` holds everything its PDF shows (seller, buyer, lines, totals) as it was when
    the invoice was issued, so a PDF rendered years later is the same PDF.
    """

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="invoices", on_delete=fields.RESTRICT
    )
    payment: fields.OneToOneNullableRelation[Payment] = fields.OneToOneField(
        "kassa.Payment", related_name="invoice", null=True, on_delete=fields.RESTRICT
    )
    # 1, 2, 3 … per organization. Null only inside the transaction that issues it, until
    # its number is allocated (at the latest just before that transaction commits).
    sequence = fields.IntField(null=True)
    number = fields.CharField(max_length=32, null=True)
    currency = fields.CharField(max_length=3)
    total = fields.BigIntField()
    tax = fields.BigIntField(default=0)
    document: fields.Field[dict[str, Any]] = fields.JSONField()
    # For invoices of a subscription: kassa's subscription and Stripe's invoice (in_…).
    subscription_id = fields.UUIDField(null=True)
    stripe_invoice_id = fields.CharField(max_length=255, null=True, unique=True)
    issued_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invoices"
        unique_together = (("organization", "sequence"),)
        indexes = (("organization_id", "created_at"),)


class InvoiceCounter(Model):
    """The last invoice number an organization has used. Raised in the transaction that
    issues the invoice, and held locked until it ends: a rolled-back transaction gives its
    number back, and no two invoices share one."""

    # The organization's id (its foreign key is declared in the migration).
    organization_id = fields.UUIDField(primary_key=True)
    last_sequence = fields.IntField(default=0)

    class Meta:
        table = "invoice_counters"


class InvoiceSeller(Model):
    """Who issues kassa's invoices, as configured (KASSA_SELLER_*), synced at start: the
    issuing transaction copies it into each invoice, wherever that transaction runs."""

    key = fields.CharField(max_length=32, primary_key=True)
    name = fields.CharField(max_length=200)
    address = fields.CharField(max_length=1000)
    tax_id = fields.CharField(max_length=100)
    tax_label = fields.CharField(max_length=50)
    # Tax included in every price, in hundredths of a percent (810 = 8.1 %); 0: none.
    tax_rate_bp = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "invoice_sellers"
