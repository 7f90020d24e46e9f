from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    DEAD = "DEAD"


class OutboxMessage(Model):
    """A side effect (mail, host notification) written with the state change that causes it.

    `dedupe_key` is unique: the same (event, kind) can be written any number of times and
    is sent once.
    """

    id = fields.UUIDField(primary_key=True)
    kind = fields.CharField(max_length=64)
    dedupe_key = fields.CharField(max_length=255, unique=True)
    payload: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(auto_now_add=True)
    last_error = fields.CharField(max_length=2000, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_messages"
        indexes = (("status", "next_attempt_at"),)
