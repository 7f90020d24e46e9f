from tortoise import migrations
from tortoise.migrations import operations as ops
from kassa.models.ledger import TransferKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('kassa', '0007_saved_cards')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditLot',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='credit_lots', on_delete=OnDelete.RESTRICT)),
                ('payment', fields.OneToOneField('kassa.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='credit_lot', on_delete=OnDelete.RESTRICT)),
                ('credits', fields.BigIntField()),
                ('remaining', fields.BigIntField()),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'credit_lots', 'app': 'kassa', 'indexes': [Index(fields=['organization_id', 'expires_at'])], 'pk_attr': 'id', 'table_description': 'Credits bought with one payment; spent soonest-expiring first, never below zero.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditPackage',
            fields=[
                ('code', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('credits', fields.BigIntField()),
                ('price', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('active', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'credit_packages', 'app': 'kassa', 'pk_attr': 'code', 'table_description': 'A package of prepaid credits for sale, synced from the catalog at start.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='LedgerTransfer',
            name='kind',
            field=fields.CharEnumField(description='TOP_UP: TOP_UP\nPURCHASE: PURCHASE\nSALE: SALE\nDEBIT: DEBIT\nREFUND: REFUND\nADJUSTMENT: ADJUSTMENT', enum_type=TransferKind, max_length=32),
        ),
        ops.AddField(
            model_name='Payment',
            name='credit_expiry_days',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Payment',
            name='credit_package_code',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Payment',
            name='credits',
            field=fields.BigIntField(null=True),
        ),
    ]
