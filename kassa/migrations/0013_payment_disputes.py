from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0012_wallet_debit_keys')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='dispute_amount',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Payment',
            name='dispute_reason',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Payment',
            name='dispute_status',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Payment',
            name='stripe_dispute_id',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
