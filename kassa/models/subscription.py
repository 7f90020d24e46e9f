from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization


class BillingInterval(StrEnum):
    MONTH = "MONTH"
    YEAR = "YEAR"


class CreditPlan(Model):
    """One version of a recurring credit plan of the catalog, and its Stripe Price.

    The Price's id is derived from everything Stripe charges and kassa grants for it (code,
    credits, price, interval), so a catalog change makes a new row and a new Price while
    subscriptions on the old one keep what they subscribed to. One row per code is active:
    the one on sale.
    """

    stripe_price_id = fields.CharField(max_length=255, primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    credits = fields.BigIntField()
    price = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    interval = fields.CharEnumField(BillingInterval, max_length=8)
    stripe_product_id = fields.CharField(max_length=255)
    # Product and Price exist at Stripe (made at start, or on first subscribe).
    at_stripe = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "credit_plans"


class SubscriptionStatus(StrEnum):
    INCOMPLETE = "INCOMPLETE"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"
    UNPAID = "UNPAID"

    @property
    def is_live(self) -> bool:
        """Stripe still bills it (or waits for its first payment): one per plan at a time."""
        return self in LIVE_STATUSES


LIVE_STATUSES = (
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
)


class CreditSubscription(Model):
    """An organization's recurring credit plan, following its Stripe Subscription."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    plan_code = fields.CharField(max_length=64)
    # The plan version Stripe bills now (a credit_plans row).
    stripe_price_id = fields.CharField(max_length=255)
    # Null until Stripe has answered the create call.
    stripe_subscription_id = fields.CharField(max_length=255, null=True, unique=True)
    status = fields.CharEnumField(
        SubscriptionStatus, max_length=16, default=SubscriptionStatus.INCOMPLETE
    )
    current_period_start = fields.DatetimeField(null=True)
    current_period_end = fields.DatetimeField(null=True)
    cancel_at_period_end = fields.BooleanField(default=False)
    # Copied to each invoice's payment: its lot's life and where its receipt goes.
    credit_expiry_days = fields.IntField()
    receipt_email = fields.CharField(max_length=320, null=True)
    idempotency_key = fields.CharField(max_length=255, null=True)
    request_fingerprint = fields.CharField(max_length=64, null=True)
    created_by = fields.CharField(max_length=255, null=True)
    # A request is talking to Stripe about this subscription until then (stripe_calls).
    stripe_call_until = fields.DatetimeField(null=True)
    # Stripe `created` time of the last event applied, so older events cannot regress state.
    last_stripe_event_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "credit_subscriptions"
        unique_together = (("organization", "idempotency_key"),)
        indexes = (("organization_id", "created_at"),)
