from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0009_credit_spending')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('role', fields.CharField(max_length=16)),
                ('prefix', fields.CharField(max_length=24)),
                ('secret_sha256', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_keys', 'app': 'kassa', 'pk_attr': 'id', 'table_description': "A host app's key to one organization. Only its SHA-256 is kept: the key itself is"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateLimitWindow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=255)),
                ('window_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('hits', fields.IntField(default=0)),
            ],
            options={'table': 'rate_limit_windows', 'app': 'kassa', 'unique_together': (('key', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Requests counted per key and minute, shared by every kassa process.'},
            bases=['Model'],
        ),
    ]
