from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0017_invoices')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Organization',
            name='billing_email',
            field=fields.CharField(null=True, max_length=320),
        ),
        ops.AddField(
            model_name='Payment',
            name='recovery_attempt',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Payment',
            name='pay_page_payment_method_id',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
