from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization
    from kassa.models.payment import Payment
    from kassa.models.refund import Refund


class CreditPackage(Model):
    """A package of prepaid credits for sale, synced from the catalog at start."""

    code = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=200)
    credits = fields.BigIntField()
    price = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    active = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "credit_packages"


class CreditLot(Model):
    """Credits bought with one payment; spent soonest-expiring first, never below zero."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="credit_lots", on_delete=fields.RESTRICT
    )
    payment: fields.OneToOneNullableRelation[Payment] = fields.OneToOneField(
        "kassa.Payment", related_name="credit_lot", null=True, on_delete=fields.RESTRICT
    )
    credits = fields.BigIntField()
    remaining = fields.BigIntField()
    consumed = fields.BigIntField(default=0)
    expired = fields.BigIntField(default=0)
    # Credits of this lot that paid off an earlier clawback's debt when it was filled.
    debt_paid = fields.BigIntField(default=0)
    # How much of this lot's refunds has been clawed back so far (from any lot or as debt).
    clawback_taken = fields.BigIntField(default=0)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_lots"
        indexes = (("organization_id", "expires_at"),)


class CreditClawbackPart(Model):
    """What one refund's clawback took from one lot, or booked as debt (no lot), so that
    a refund Stripe reverses gives back exactly that."""

    id = fields.BigIntField(primary_key=True)
    refund: fields.ForeignKeyRelation[Refund] = fields.ForeignKeyField(
        "kassa.Refund", related_name="clawback_parts", on_delete=fields.RESTRICT
    )
    lot: fields.ForeignKeyNullableRelation[CreditLot] = fields.ForeignKeyField(
        "kassa.CreditLot", related_name="clawback_parts", null=True, on_delete=fields.RESTRICT
    )
    credits = fields.BigIntField()

    class Meta:
        table = "credit_clawback_parts"
