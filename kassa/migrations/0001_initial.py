from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from kassa.models.ledger import AccountKind, TransferKind
from kassa.models.payment import PaymentPurpose, PaymentStatus
from kassa.models.stripe_event import StripeEventStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Organization',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=200)),
                ('name', fields.CharField(max_length=200)),
                ('stripe_customer_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'organizations', 'app': 'kassa', 'pk_attr': 'id', 'table_description': 'A tenant. Created on the first valid token that names it (`org_id` claim).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerAccount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=255)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', null=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='WALLET: wallet\nCREDITS: credits\nSTRIPE_CLEARING: stripe_clearing\nWALLET_SPEND: wallet_spend\nCREDITS_ISSUED: credits_issued\nCREDITS_CONSUMED: credits_consumed\nCREDITS_EXPIRED: credits_expired', enum_type=AccountKind, max_length=32)),
                ('unit', fields.CharField(max_length=16)),
                ('balance', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_accounts', 'app': 'kassa', 'pk_attr': 'id', 'table_description': 'One side of the double-entry ledger. `balance` caches the sum of its transfers.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Payment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT)),
                ('purpose', fields.CharEnumField(description='WALLET_TOP_UP: WALLET_TOP_UP\nCREDIT_PACKAGE: CREDIT_PACKAGE\nORDER: ORDER', enum_type=PaymentPurpose, max_length=32)),
                ('status', fields.CharEnumField(default=PaymentStatus.REQUIRES_PAYMENT_METHOD, description='REQUIRES_PAYMENT_METHOD: REQUIRES_PAYMENT_METHOD\nREQUIRES_CONFIRMATION: REQUIRES_CONFIRMATION\nREQUIRES_ACTION: REQUIRES_ACTION\nPROCESSING: PROCESSING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED\nCANCELED: CANCELED', enum_type=PaymentStatus, max_length=32)),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('amount_refunded', fields.BigIntField(default=0)),
                ('stripe_payment_intent_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('stripe_checkout_session_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('stripe_charge_id', fields.CharField(null=True, max_length=255)),
                ('stripe_payment_method_id', fields.CharField(null=True, max_length=255)),
                ('card_brand', fields.CharField(null=True, max_length=32)),
                ('card_last4', fields.CharField(null=True, max_length=4)),
                ('card_exp_month', fields.SmallIntField(null=True)),
                ('card_exp_year', fields.SmallIntField(null=True)),
                ('failure_code', fields.CharField(null=True, max_length=100)),
                ('failure_message', fields.CharField(null=True, max_length=1000)),
                ('idempotency_key', fields.CharField(null=True, max_length=255)),
                ('request_fingerprint', fields.CharField(null=True, max_length=64)),
                ('created_by', fields.CharField(null=True, max_length=255)),
                ('last_stripe_event_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payments', 'app': 'kassa', 'unique_together': (('organization', 'idempotency_key'),), 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One attempt to take money through Stripe, owned by an organization.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerTransfer',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('debit_account', fields.ForeignKeyField('kassa.LedgerAccount', source_field='debit_account_id', db_constraint=True, to_field='id', related_name='debits', on_delete=OnDelete.RESTRICT)),
                ('credit_account', fields.ForeignKeyField('kassa.LedgerAccount', source_field='credit_account_id', db_constraint=True, to_field='id', related_name='credits', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.BigIntField()),
                ('unit', fields.CharField(max_length=16)),
                ('kind', fields.CharEnumField(description='TOP_UP: TOP_UP\nDEBIT: DEBIT\nREFUND: REFUND\nADJUSTMENT: ADJUSTMENT', enum_type=TransferKind, max_length=32)),
                ('payment', fields.ForeignKeyField('kassa.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='transfers', on_delete=OnDelete.RESTRICT)),
                ('idempotency_key', fields.CharField(unique=True, max_length=255)),
                ('debit_balance_after', fields.BigIntField()),
                ('credit_balance_after', fields.BigIntField()),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_transfers', 'app': 'kassa', 'constraints': [CheckConstraint(check='amount > 0', name='ledger_transfers_amount_positive'), CheckConstraint(check='debit_account_id <> credit_account_id', name='ledger_transfers_distinct_accounts')], 'indexes': [Index(fields=['debit_account_id', 'created_at']), Index(fields=['credit_account_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An immutable movement of `amount` from the debit account to the credit account.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StripeEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('type', fields.CharField(max_length=100)),
                ('livemode', fields.BooleanField()),
                ('account', fields.CharField(null=True, max_length=255)),
                ('api_version', fields.CharField(null=True, max_length=64)),
                ('stripe_created', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('object_id', fields.CharField(null=True, max_length=255)),
                ('payload', fields.TextField(unique=False)),
                ('headers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default='PENDING', description='PENDING: PENDING\nPROCESSED: PROCESSED\nIGNORED: IGNORED\nFAILED: FAILED\nDEAD: DEAD', enum_type=StripeEventStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=2000)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stripe_events', 'app': 'kassa', 'indexes': [Index(fields=['status', 'received_at']), Index(fields=['object_id'])], 'pk_attr': 'id', 'table_description': 'The inbox: every verified Stripe event, stored once by its Stripe id before the 2xx.'},
            bases=['Model'],
        ),
        # tortoise 1.1 records CheckConstraint in the model state but does not create it.
    ops.RunSQL(
        sql=[
            "ALTER TABLE ledger_transfers ADD CONSTRAINT ledger_transfers_amount_positive CHECK (amount > 0)",
            "ALTER TABLE ledger_transfers ADD CONSTRAINT ledger_transfers_distinct_accounts CHECK (debit_account_id <> credit_account_id)",
        ],
        reverse_sql=[
            "ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_distinct_accounts",
            "ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_amount_positive",
        ],
    ),
    ]
