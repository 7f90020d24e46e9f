from tortoise import migrations
from tortoise.migrations import operations as ops
from kassa.models.refund import RefundStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0003_orders')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('payment', fields.ForeignKeyField('kassa.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(default=RefundStatus.PENDING, description='PENDING: PENDING\nREQUIRES_ACTION: REQUIRES_ACTION\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED\nCANCELED: CANCELED', enum_type=RefundStatus, max_length=32)),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('stripe_refund_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('idempotency_key', fields.CharField(null=True, max_length=255)),
                ('request_fingerprint', fields.CharField(null=True, max_length=64)),
                ('failure_reason', fields.CharField(null=True, max_length=255)),
                ('created_by', fields.CharField(null=True, max_length=255)),
                ('last_stripe_event_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'refunds', 'app': 'kassa', 'unique_together': (('payment', 'idempotency_key'),), 'pk_attr': 'id', 'table_description': "Money going back for a payment, whether asked through kassa or in Stripe's dashboard."},
            bases=['Model'],
        ),
    ]
