from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from kassa.models.organization import Organization


class ApiKey(Model):
    """A host app's key to one organization. Only its SHA-256 is kept: the key itself is
    shown once, when it is made."""

    id = fields.UUIDField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "kassa.Organization", related_name="api_keys", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    role = fields.CharField(max_length=16)
    # The first characters of the key, to tell keys apart in a list.
    prefix = fields.CharField(max_length=24)
    secret_sha256 = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class RateLimitWindow(Model):
    """Requests counted per key and minute, shared by every kassa process."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=255)
    window_start = fields.DatetimeField()
    hits = fields.IntField(default=0)

    class Meta:
        table = "rate_limit_windows"
        unique_together = (("key", "window_start"),)
