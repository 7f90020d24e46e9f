from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('kassa', '0011_credit_clawback_parts')]

    initial = False

    # A client's debit key now names one request across all of an organization's wallets
    # (`wallet@<org>:debit:<digest>`, was `wallet:<currency>@<org>:debit:<digest>`), so
    # debits made before keep answering their retries. Where one key was already used in
    # two currencies, the first debit takes the new key; the others keep the old one.
    operations = [
        ops.RunSQL(
            sql=[
                "WITH legacy AS ("
                " SELECT id, created_at, 'wallet@' || substring(idempotency_key FROM"
                " '^wallet:[a-z]+@([^:]+):debit:') || ':debit:' || substring(idempotency_key"
                " FROM ':debit:([0-9a-f]+)$') AS new_key FROM ledger_transfers"
                " WHERE kind = 'DEBIT' AND idempotency_key ~ '^wallet:[a-z]+@[^:]+:debit:[0-9a-f]+$'"
                "), first AS ("
                " SELECT DISTINCT ON (new_key) id, new_key FROM legacy"
                " ORDER BY new_key, created_at, id"
                ") UPDATE ledger_transfers t SET idempotency_key = first.new_key"
                " FROM first WHERE t.id = first.id",
            ],
            reverse_sql=[
                "UPDATE ledger_transfers SET idempotency_key = 'wallet:' || unit ||"
                " substring(idempotency_key FROM '^wallet(@.*)$')"
                " WHERE kind = 'DEBIT' AND idempotency_key ~ '^wallet@'",
            ],
        ),
    ]
