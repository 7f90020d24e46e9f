from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0010_api_keys_and_rate_limits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditClawbackPart',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('refund', fields.ForeignKeyField('kassa.Refund', source_field='refund_id', db_constraint=True, to_field='id', related_name='clawback_parts', on_delete=OnDelete.RESTRICT)),
                ('lot', fields.ForeignKeyField('kassa.CreditLot', source_field='lot_id', null=True, db_constraint=True, to_field='id', related_name='clawback_parts', on_delete=OnDelete.RESTRICT)),
                ('credits', fields.BigIntField()),
            ],
            options={'table': 'credit_clawback_parts', 'app': 'kassa', 'pk_attr': 'id', 'table_description': "What one refund's clawback took from one lot, or booked as debt (no lot), so that"},
            bases=['Model'],
        ),
    ]
