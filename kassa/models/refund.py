from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.payment import Payment


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def holds_money(self) -> bool:
        """Counts against what is left to refund: on its way or done."""
        return self in (RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION, RefundStatus.SUCCEEDED)


class Refund(Model):
    """Money going back for a payment, whether asked through kassa or in Stripe's dashboard."""

    id = fields.UUIDField(primary_key=True)
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "kassa.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(RefundStatus, max_length=32, default=RefundStatus.PENDING)
    reason = fields.CharField(max_length=500, null=True)
    stripe_refund_id = fields.CharField(max_length=255, null=True, unique=True)
    idempotency_key = fields.CharField(max_length=255, null=True)
    request_fingerprint = fields.CharField(max_length=64, null=True)
    failure_reason = fields.CharField(max_length=255, null=True)
    created_by = fields.CharField(max_length=255, null=True)
    # Stripe `created` time of the last refund state applied.
    last_stripe_event_at = fields.DatetimeField(null=True)
    # A request or worker is sending this refund to Stripe until then (services/stripe_calls).
    stripe_call_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "refunds"
        unique_together = (("payment", "idempotency_key"),)
