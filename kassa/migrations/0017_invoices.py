from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('kassa', '0016_refund_stripe_calls')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('kassa.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('payment', fields.OneToOneField('kassa.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='invoice', on_delete=OnDelete.RESTRICT)),
                ('sequence', fields.IntField(null=True)),
                ('number', fields.CharField(null=True, max_length=32)),
                ('currency', fields.CharField(max_length=3)),
                ('total', fields.BigIntField()),
                ('tax', fields.BigIntField(default=0)),
                ('document', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('subscription_id', fields.UUIDField(null=True)),
                ('stripe_invoice_id', fields.CharField(null=True, unique=True, max_length=255)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invoices', 'app': 'kassa', 'unique_together': (('organization', 'sequence'),), 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'The document of one paid payment, numbered per organization without gaps.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceCounter',
            fields=[
                ('organization_id', fields.UUIDField(primary_key=True, unique=True, db_index=True)),
                ('last_sequence', fields.IntField(default=0)),
            ],
            options={'table': 'invoice_counters', 'app': 'kassa', 'pk_attr': 'organization_id', 'table_description': 'The last invoice number an organization has used. Raised in the transaction that'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceSeller',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('name', fields.CharField(max_length=200)),
                ('address', fields.CharField(max_length=1000)),
                ('tax_id', fields.CharField(max_length=100)),
                ('tax_label', fields.CharField(max_length=50)),
                ('tax_rate_bp', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'invoice_sellers', 'app': 'kassa', 'pk_attr': 'key', 'table_description': "Who issues kassa's invoices, as configured (KASSA_SELLER_*), synced at start: the"},
            bases=['Model'],
        ),
        # Finding a transaction's unnumbered invoices (services/invoices.py) reads this
        # index only: it holds nothing outside an issuing transaction.
        ops.RunSQL(
            [
                "ALTER TABLE invoice_counters ADD CONSTRAINT invoice_counters_organization_fkey"
                " FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT",
                "CREATE INDEX invoices_unnumbered ON invoices (organization_id) WHERE sequence IS NULL",
                # Invoices written below, without a seller until kassa starts configured.
                "CREATE INDEX invoices_without_seller ON invoices (id) WHERE document->'seller' = 'null'::jsonb",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS invoices_unnumbered",
                "DROP INDEX IF EXISTS invoices_without_seller",
            ],
        ),
        # Payments that succeeded before invoices existed get theirs, numbered in the order
        # they were paid. The seller is not known here (it is configuration): the first
        # start after this migration writes the configured one into these (`sync_seller`).
        ops.RunSQL(
            [
                "WITH paid AS ("
                " SELECT p.*, row_number() OVER (PARTITION BY p.organization_id"
                " ORDER BY coalesce(p.paid_at, p.updated_at), p.created_at, p.id) AS nth"
                " FROM payments p WHERE p.status = 'SUCCEEDED'"
                "), described AS ("
                " SELECT paid.*, o.name AS buyer, CASE"
                " WHEN paid.purpose = 'WALLET_TOP_UP' THEN 'Wallet top-up (' || upper(paid.currency) || ')'"
                " WHEN paid.purpose = 'CREDIT_PACKAGE' THEN coalesce(cp.name, paid.credit_package_code, 'Credits')"
                " WHEN paid.purpose = 'ORDER' THEN coalesce(ord.description, ord.reference, 'Order')"
                " ELSE 'Payment' END AS description, CASE"
                " WHEN paid.purpose = 'CREDIT_PACKAGE' THEN"
                " to_char(coalesce(paid.credits, 0), 'FM999,999,999,999,999') || ' credits'"
                " WHEN paid.purpose = 'ORDER' AND ord.reference IS NOT NULL THEN 'Reference ' || ord.reference"
                " END AS detail"
                " FROM paid JOIN organizations o ON o.id = paid.organization_id"
                " LEFT JOIN credit_packages cp ON cp.code = paid.credit_package_code"
                " LEFT JOIN orders ord ON ord.id = paid.order_id"
                ") INSERT INTO invoices (id, organization_id, payment_id, sequence, number, currency,"
                " total, tax, document, issued_at, created_at)"
                " SELECT gen_random_uuid(), organization_id, id, nth,"
                " upper(left(replace(organization_id::text, '-', ''), 8)) || '-' ||"
                " lpad(nth::text, greatest(6, length(nth::text)), '0'), currency, amount, 0,"
                " jsonb_build_object('version', 1,"
                " 'issued_at', to_char(coalesce(paid_at, updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'),"
                " 'seller', NULL, 'buyer', jsonb_build_object('name', buyer, 'email', receipt_email),"
                " 'currency', currency, 'lines', jsonb_build_array(jsonb_build_object("
                " 'description', description, 'amount', amount, 'quantity', 1, 'detail', detail)),"
                " 'subtotal', amount, 'tax', jsonb_build_object('label', 'Tax', 'rate_bp', 0, 'amount', 0),"
                " 'total', amount, 'paid', jsonb_build_object('card', CASE WHEN card_last4 IS NOT NULL"
                " THEN card_brand || ' ending ' || card_last4 END, 'payment_id', 'pay_' || replace(id::text, '-', ''))),"
                " coalesce(paid_at, updated_at), coalesce(paid_at, updated_at)"
                " FROM described",
                "INSERT INTO invoice_counters (organization_id, last_sequence)"
                " SELECT organization_id, max(sequence) FROM invoices GROUP BY organization_id",
            ],
            reverse_sql=["DELETE FROM invoice_counters", "DELETE FROM invoices"],
        ),
    ]
