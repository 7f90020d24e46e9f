from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class StripeEventStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    IGNORED = "IGNORED"
    FAILED = "FAILED"
    DEAD = "DEAD"


class StripeEvent(Model):
    """The inbox: every verified Stripe event, stored once by its Stripe id before the 2xx."""

    id = fields.CharField(max_length=255, primary_key=True)
    type = fields.CharField(max_length=100)
    livemode = fields.BooleanField()
    account = fields.CharField(max_length=255, null=True)
    api_version = fields.CharField(max_length=64, null=True)
    stripe_created = fields.DatetimeField()
    object_id = fields.CharField(max_length=255, null=True)
    payload = fields.TextField()
    headers: fields.Field[dict[str, str]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(StripeEventStatus, max_length=16, default="PENDING")
    attempts = fields.IntField(default=0)
    # When a FAILED event is due for its next attempt (exponential backoff).
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=2000, null=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "stripe_events"
        indexes = (("status", "received_at"), ("status", "next_attempt_at"), ("object_id",))
