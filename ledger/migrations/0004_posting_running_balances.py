"""Running balances on postings (step 1 of 3): the new columns, nullable until backfilled.

Postings gain `sequence` (per account), `balance_after`, `held_after` and `posted_at`; accounts
gain `sequence` (their latest posting's); holds an index for "active at an instant"; and daily
balance snapshots get their table.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_sql import vendor_sql

# Rebuilding ledger_posting on SQLite (dropping these columns when migrating back) drops its
# triggers: migrating back past this migration installs the immutability trigger again.
SQLITE_IMMUTABLE = [
    "DROP TRIGGER IF EXISTS ledger_posting_immutable;",
    """CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE ON ledger_posting
       BEGIN SELECT RAISE(ABORT, 'ledger_posting rows are immutable'); END;""",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_database_invariants")]

    operations = [
        vendor_sql(sqlite_reverse=SQLITE_IMMUTABLE),
        migrations.AddField(
            model_name="account", name="sequence", field=models.BigIntegerField(default=0, db_default=0)
        ),
        migrations.AddField(model_name="posting", name="sequence", field=models.BigIntegerField(null=True)),
        migrations.AddField(model_name="posting", name="balance_after", field=models.BigIntegerField(null=True)),
        migrations.AddField(model_name="posting", name="held_after", field=models.BigIntegerField(null=True)),
        migrations.AddField(model_name="posting", name="posted_at", field=models.DateTimeField(null=True)),
        migrations.AddIndex(
            model_name="hold",
            index=models.Index(fields=["account", "closed_at"], name="ledger_hold_account_closed"),
        ),
        migrations.CreateModel(
            name="BalanceSnapshot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField()),
                ("as_of", models.DateTimeField()),
                ("balance", models.BigIntegerField()),
                ("sequence", models.BigIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="snapshots", to="ledger.account"
                    ),
                ),
            ],
            options={
                "ordering": ["-date", "account_id"],
                "indexes": [models.Index(fields=["date"], name="ledger_balancesnapshot_date")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "date"), name="ledger_balancesnapshot_one_per_account_day"
                    )
                ],
            },
        ),
    ]
