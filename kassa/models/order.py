from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"

    @property
    def is_paid(self) -> bool:
        """Money arrived (whether or not some went back since)."""
        return self in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


class Order(Model):
    """Something a host app sells (a ticket, a coaching session), paid through kassa."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="orders", on_delete=fields.RESTRICT
    )
    # The host app's own id for what is sold, e.g. its booking number.
    reference = fields.CharField(max_length=255, null=True)
    description = fields.CharField(max_length=1000, null=True)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(OrderStatus, max_length=32, default=OrderStatus.PENDING)
    customer_email = fields.CharField(max_length=320, null=True)
    notify_emails: fields.Field[list[str]] = fields.JSONField(default=list)
    created_by = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "orders"
        unique_together = (("organization", "reference"),)
        indexes = (("organization_id", "created_at"),)
