from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.order import Order
    from kassa.models.organization import Organization
    from kassa.models.subscription import CreditSubscription


class PaymentPurpose(StrEnum):
    WALLET_TOP_UP = "WALLET_TOP_UP"
    CREDIT_PACKAGE = "CREDIT_PACKAGE"
    ORDER = "ORDER"
    SUBSCRIPTION = "SUBSCRIPTION"

    @property
    def grants_credits(self) -> bool:
        """Its success fills a credit lot, which a refund claws back."""
        return self in (PaymentPurpose.CREDIT_PACKAGE, PaymentPurpose.SUBSCRIPTION)


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "REQUIRES_PAYMENT_METHOD"
    REQUIRES_CONFIRMATION = "REQUIRES_CONFIRMATION"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_final(self) -> bool:
        """Final states are never left again, whatever stale event arrives later."""
        return self in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)


class Payment(Model):
    """One attempt to take money through Stripe, owned by an organization."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="payments", on_delete=fields.RESTRICT
    )
    purpose = fields.CharEnumField(PaymentPurpose, max_length=32)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "kassa.Order", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(
        PaymentStatus, max_length=32, default=PaymentStatus.REQUIRES_PAYMENT_METHOD
    )
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    amount_refunded = fields.BigIntField(default=0)
    stripe_payment_intent_id = fields.CharField(max_length=255, null=True, unique=True)
    stripe_checkout_session_id = fields.CharField(max_length=255, null=True, unique=True)
    stripe_charge_id = fields.CharField(max_length=255, null=True)
    stripe_payment_method_id = fields.CharField(max_length=255, null=True)
    card_brand = fields.CharField(max_length=32, null=True)
    card_last4 = fields.CharField(max_length=4, null=True)
    card_exp_month = fields.SmallIntField(null=True)
    card_exp_year = fields.SmallIntField(null=True)
    failure_code = fields.CharField(max_length=100, null=True)
    failure_message = fields.CharField(max_length=1000, null=True)
    idempotency_key = fields.CharField(max_length=255, null=True)
    # Hash of the request that created the payment, so a reused idempotency key with
    # different arguments is refused instead of silently answering for another request.
    request_fingerprint = fields.CharField(max_length=64, null=True)
    created_by = fields.CharField(max_length=255, null=True)
    # The credit package a CREDIT_PACKAGE payment buys (kept even once it is deactivated).
    credit_package_code = fields.CharField(max_length=64, null=True)
    credits = fields.BigIntField(null=True)
    credit_expiry_days = fields.IntField(null=True)
    # A SUBSCRIPTION payment pays one Stripe invoice of its subscription, for one plan
    # version (its Price); one payment, hence one credit lot, per invoice.
    subscription: fields.ForeignKeyNullableRelation[CreditSubscription] = fields.ForeignKeyField(
        "kassa.CreditSubscription", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    stripe_invoice_id = fields.CharField(max_length=255, null=True, unique=True)
    stripe_price_id = fields.CharField(max_length=255, null=True)
    # Where the receipt and refund notices go (the order's customer, or who topped up).
    receipt_email = fields.CharField(max_length=320, null=True)
    # Paid on Stripe Checkout's page: its session, never a PaymentIntent kassa confirms.
    via_checkout = fields.BooleanField(default=False)
    # A request is talking to Stripe about this payment until then; others wait for it
    # instead of creating or confirming a second time (no lock is held meanwhile).
    stripe_call_until = fields.DatetimeField(null=True)
    # Succeeded for an order another payment had already paid (refunded automatically).
    duplicate = fields.BooleanField(default=False)
    # The cardholder's bank disputes the charge (`charge.dispute.created`): Stripe's dispute,
    # its status and reason as Stripe names them, and the amount it holds back.
    stripe_dispute_id = fields.CharField(max_length=255, null=True)
    dispute_status = fields.CharField(max_length=64, null=True)
    dispute_reason = fields.CharField(max_length=64, null=True)
    dispute_amount = fields.BigIntField(null=True)
    # The latest failed attempt a retry mail was considered for: a mail queued for an
    # earlier one is not sent (a payer who tried three cards gets one mail, not three).
    recovery_attempt = fields.CharField(max_length=255, null=True)
    # The card last entered on kassa's own payment page (`/pay/…`): its declines are shown
    # to the payer on the page, never mailed.
    pay_page_payment_method_id = fields.CharField(max_length=255, null=True)
    # Stripe `created` time of the last event applied, so older events cannot regress state.
    last_stripe_event_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payments"
        unique_together = (("organization", "idempotency_key"),)
        indexes = (("organization_id", "created_at"),)
