from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0006_host_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SavedCard',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='saved_cards', on_delete=OnDelete.RESTRICT)),
                ('stripe_payment_method_id', fields.CharField(unique=True, max_length=255)),
                ('brand', fields.CharField(null=True, max_length=32)),
                ('last4', fields.CharField(null=True, max_length=4)),
                ('exp_month', fields.SmallIntField(null=True)),
                ('exp_year', fields.SmallIntField(null=True)),
                ('is_default', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('detached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'saved_cards', 'app': 'kassa', 'pk_attr': 'id', 'table_description': 'A card the organization saved with Stripe (a PaymentMethod on its Customer).'},
            bases=['Model'],
        ),
    ]
