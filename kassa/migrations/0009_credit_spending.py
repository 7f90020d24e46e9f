from tortoise import migrations
from tortoise.migrations import operations as ops
from kassa.models.ledger import AccountKind, TransferKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0008_credits')]

    initial = False

    operations = [
        ops.AddField(
            model_name='CreditLot',
            name='clawback_taken',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='CreditLot',
            name='consumed',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='CreditLot',
            name='debt_paid',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='CreditLot',
            name='expired',
            field=fields.BigIntField(default=0),
        ),
        ops.AlterField(
            model_name='LedgerAccount',
            name='kind',
            field=fields.CharEnumField(description='WALLET: wallet\nCREDITS: credits\nSTRIPE_CLEARING: stripe_clearing\nWALLET_SPEND: wallet_spend\nSALES: sales\nCREDITS_ISSUED: credits_issued\nCREDITS_CONSUMED: credits_consumed\nCREDITS_EXPIRED: credits_expired\nCREDITS_CLAWED_BACK: credits_clawed_back', enum_type=AccountKind, max_length=32),
        ),
        ops.AlterField(
            model_name='LedgerTransfer',
            name='kind',
            field=fields.CharEnumField(description='TOP_UP: TOP_UP\nPURCHASE: PURCHASE\nSALE: SALE\nDEBIT: DEBIT\nREFUND: REFUND\nADJUSTMENT: ADJUSTMENT\nCONSUME: CONSUME\nEXPIRE: EXPIRE\nCLAWBACK: CLAWBACK', enum_type=TransferKind, max_length=32),
        ),
        ops.AddField(
            model_name='Organization',
            name='credit_debt',
            field=fields.BigIntField(default=0),
        ),
        # The database itself refuses a lot below zero or a negative debt, whatever the code.
        ops.RunSQL(
            sql=[
                # Rows written by plain SQL (organizations are provisioned that way) need
                # the database to know the default, not only the model.
                "ALTER TABLE organizations ALTER COLUMN credit_debt SET DEFAULT 0",
                "ALTER TABLE credit_lots ADD CONSTRAINT credit_lots_counts_not_negative CHECK "
                "(remaining >= 0 AND consumed >= 0 AND expired >= 0 AND debt_paid >= 0 "
                "AND clawback_taken >= 0)",
                "ALTER TABLE organizations ADD CONSTRAINT organizations_credit_debt_not_negative "
                "CHECK (credit_debt >= 0)",
            ],
            reverse_sql=[
                "ALTER TABLE organizations ALTER COLUMN credit_debt DROP DEFAULT",
                "ALTER TABLE organizations DROP CONSTRAINT organizations_credit_debt_not_negative",
                "ALTER TABLE credit_lots DROP CONSTRAINT credit_lots_counts_not_negative",
            ],
        ),
    ]
