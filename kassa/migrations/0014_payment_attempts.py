from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0013_payment_disputes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='via_checkout',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='stripe_call_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='duplicate',
            field=fields.BooleanField(default=False),
        ),
        # Defaults in the database too, so rows written by plain SQL (operators, tools) fit.
        ops.RunSQL(
            [
                "ALTER TABLE payments ALTER COLUMN via_checkout SET DEFAULT false",
                "ALTER TABLE payments ALTER COLUMN duplicate SET DEFAULT false",
                "UPDATE payments SET via_checkout = true WHERE stripe_checkout_session_id IS NOT NULL",
            ],
            reverse_sql="",
        ),
    ]
