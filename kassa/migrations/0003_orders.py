from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from kassa.models.ledger import AccountKind, TransferKind
from kassa.models.order import OrderStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('kassa', '0002_worker_outbox_reconciliation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('reference', fields.CharField(null=True, max_length=255)),
                ('description', fields.CharField(null=True, max_length=1000)),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(default=OrderStatus.PENDING, description='PENDING: PENDING\nPAID: PAID\nFAILED: FAILED\nCANCELED: CANCELED\nPARTIALLY_REFUNDED: PARTIALLY_REFUNDED\nREFUNDED: REFUNDED', enum_type=OrderStatus, max_length=32)),
                ('customer_email', fields.CharField(null=True, max_length=320)),
                ('notify_emails', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'orders', 'app': 'kassa', 'unique_together': (('organization', 'reference'),), 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Something a host app sells (a ticket, a coaching session), paid through kassa.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='LedgerAccount',
            name='kind',
            field=fields.CharEnumField(description='WALLET: wallet\nCREDITS: credits\nSTRIPE_CLEARING: stripe_clearing\nWALLET_SPEND: wallet_spend\nSALES: sales\nCREDITS_ISSUED: credits_issued\nCREDITS_CONSUMED: credits_consumed\nCREDITS_EXPIRED: credits_expired', enum_type=AccountKind, max_length=32),
        ),
        ops.AlterField(
            model_name='LedgerTransfer',
            name='kind',
            field=fields.CharEnumField(description='TOP_UP: TOP_UP\nSALE: SALE\nDEBIT: DEBIT\nREFUND: REFUND\nADJUSTMENT: ADJUSTMENT', enum_type=TransferKind, max_length=32),
        ),
        ops.AddField(
            model_name='Payment',
            name='order',
            field=fields.ForeignKeyField('kassa.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT),
        ),
    ]
