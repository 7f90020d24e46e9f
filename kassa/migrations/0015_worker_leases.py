from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('kassa', '0014_payment_attempts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WorkerLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('holder', fields.UUIDField()),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'worker_leases', 'app': 'kassa', 'pk_attr': 'name', 'table_description': 'Work one process at a time does (reconciling, sending refunds again): claimed in one'},
            bases=['Model'],
        ),
    ]
