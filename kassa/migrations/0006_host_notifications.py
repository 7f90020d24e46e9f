from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0005_receipt_email')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Organization',
            name='notify_secret',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='Organization',
            name='notify_url',
            field=fields.CharField(null=True, max_length=2000),
        ),
    ]
