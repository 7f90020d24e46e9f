from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0004_refunds')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='receipt_email',
            field=fields.CharField(null=True, max_length=320),
        ),
    ]
