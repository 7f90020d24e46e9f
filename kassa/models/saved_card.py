from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization


class SavedCard(Model):
    """A card the organization saved with Stripe (a PaymentMethod on its Customer)."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="saved_cards", on_delete=fields.RESTRICT
    )
    stripe_payment_method_id = fields.CharField(max_length=255, unique=True)
    brand = fields.CharField(max_length=32, null=True)
    last4 = fields.CharField(max_length=4, null=True)
    exp_month = fields.SmallIntField(null=True)
    exp_year = fields.SmallIntField(null=True)
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    detached_at = fields.DatetimeField(null=True)

    class Meta:
        table = "saved_cards"
