from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0015_worker_leases')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Refund',
            name='stripe_call_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
