from tortoise import migrations
from tortoise.migrations import operations as ops
from kassa.models.payment import PaymentPurpose
from kassa.models.subscription import BillingInterval, SubscriptionStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('kassa', '0018_payment_recovery')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditPlan',
            fields=[
                ('stripe_price_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('credits', fields.BigIntField()),
                ('price', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('interval', fields.CharEnumField(description='MONTH: MONTH\nYEAR: YEAR', enum_type=BillingInterval, max_length=8)),
                ('stripe_product_id', fields.CharField(max_length=255)),
                ('at_stripe', fields.BooleanField(default=False)),
                ('active', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'credit_plans', 'app': 'kassa', 'pk_attr': 'stripe_price_id', 'table_description': 'One version of a recurring credit plan of the catalog, and its Stripe Price.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditSubscription',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='subscriptions', on_delete=OnDelete.RESTRICT)),
                ('plan_code', fields.CharField(max_length=64)),
                ('stripe_price_id', fields.CharField(max_length=255)),
                ('stripe_subscription_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('status', fields.CharEnumField(default=SubscriptionStatus.INCOMPLETE, description='INCOMPLETE: INCOMPLETE\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nCANCELED: CANCELED\nUNPAID: UNPAID', enum_type=SubscriptionStatus, max_length=16)),
                ('current_period_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('current_period_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancel_at_period_end', fields.BooleanField(default=False)),
                ('credit_expiry_days', fields.IntField()),
                ('receipt_email', fields.CharField(null=True, max_length=320)),
                ('idempotency_key', fields.CharField(null=True, max_length=255)),
                ('request_fingerprint', fields.CharField(null=True, max_length=64)),
                ('created_by', fields.CharField(null=True, max_length=255)),
                ('stripe_call_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_stripe_event_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'credit_subscriptions', 'app': 'kassa', 'unique_together': (('organization', 'idempotency_key'),), 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "An organization's recurring credit plan, following its Stripe Subscription."},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Payment',
            name='purpose',
            field=fields.CharEnumField(description='WALLET_TOP_UP: WALLET_TOP_UP\nCREDIT_PACKAGE: CREDIT_PACKAGE\nORDER: ORDER\nSUBSCRIPTION: SUBSCRIPTION', enum_type=PaymentPurpose, max_length=32),
        ),
        ops.AddField(
            model_name='Payment',
            name='stripe_invoice_id',
            field=fields.CharField(null=True, unique=True, max_length=255),
        ),
        ops.AddField(
            model_name='Payment',
            name='stripe_price_id',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Payment',
            name='subscription',
            field=fields.ForeignKeyField('kassa.CreditSubscription', source_field='subscription_id', null=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT),
        ),
        # One live subscription per organization and plan (ALREADY_SUBSCRIBED), race-safe;
        # one version of a plan on sale per code.
        ops.RunSQL(
            [
                "CREATE UNIQUE INDEX credit_subscriptions_live_plan ON credit_subscriptions "
                "(organization_id, plan_code) WHERE status IN ('INCOMPLETE', 'ACTIVE', 'PAST_DUE')",
                "CREATE UNIQUE INDEX credit_plans_on_sale ON credit_plans (code) WHERE active",
                "ALTER TABLE credit_plans ALTER COLUMN at_stripe SET DEFAULT false",
                "ALTER TABLE credit_plans ALTER COLUMN active SET DEFAULT true",
                "ALTER TABLE credit_subscriptions ALTER COLUMN cancel_at_period_end SET DEFAULT false",
            ],
            reverse_sql="",
        ),
    ]
