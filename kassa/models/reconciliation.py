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


class WorkerLease(Model):
    """Work one process at a time does (reconciling, sending refunds again): claimed in one
    statement, given back after, and running out by itself if its holder dies. No connection
    is held meanwhile, unlike a session advisory lock, and the work calls Stripe."""

    name = fields.CharField(max_length=100, primary_key=True)
    holder = fields.UUIDField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "worker_leases"
