from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Organization(Model):
    """A tenant. Created on the first valid token that names it (`org_id` claim)."""

    id = fields.UUIDField(primary_key=True)
    external_id = fields.CharField(max_length=200, unique=True)
    name = fields.CharField(max_length=200)
    stripe_customer_id = fields.CharField(max_length=255, null=True, unique=True)
    # Where kassa tells the host app about payment and order changes, and the HMAC key it
    # signs those notifications with.
    notify_url = fields.CharField(max_length=2000, null=True)
    notify_secret = fields.CharField(max_length=128, null=True)
    # Credits a refund clawed back beyond what was left; the next credit purchase pays it.
    credit_debt = fields.BigIntField(default=0)
    # Who is told when the organization's own payments fail (retry mails); when unset, the
    # failed payment's receipt address is.
    billing_email = fields.CharField(max_length=320, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organizations"
