from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ReconciliationRun(Model):
    """One pass comparing Stripe's recent objects with kassa's records."""

    id = fields.BigIntField(primary_key=True)
    since = fields.DatetimeField()
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    checked = fields.IntField(default=0)
    fixed = fields.IntField(default=0)
    report: fields.Field[list[dict[str, object]]] = fields.JSONField(default=list)

    class Meta:
        table = "reconciliation_runs"
