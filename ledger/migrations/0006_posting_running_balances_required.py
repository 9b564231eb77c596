"""Running balances on postings (step 3 of 3): required from now on, unique per account and
indexed for as-of reads (account, posted_at, sequence).

SQLite rebuilds a table to change a column or add a constraint, which drops its triggers: the
posting immutability trigger of migration 0003 is installed again at the end.
"""

from django.db import migrations, models

from core.migration_sql import vendor_sql

SQLITE_IMMUTABLE = [
    "DROP TRIGGER IF EXISTS ledger_posting_immutable;",
    """CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE ON ledger_posting
       BEGIN SELECT RAISE(ABORT, 'ledger_posting rows are immutable'); END;""",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_backfill_running_balances")]

    operations = [
        migrations.AlterField(model_name="posting", name="sequence", field=models.BigIntegerField()),
        migrations.AlterField(model_name="posting", name="balance_after", field=models.BigIntegerField()),
        migrations.AlterField(model_name="posting", name="held_after", field=models.BigIntegerField()),
        migrations.AlterField(model_name="posting", name="posted_at", field=models.DateTimeField()),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("sequence__gte", 0)), name="ledger_account_sequence_non_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="posting",
            constraint=models.CheckConstraint(
                condition=models.Q(("sequence__gte", 1)), name="ledger_posting_sequence_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="posting",
            constraint=models.CheckConstraint(
                condition=models.Q(("held_after__gte", 0)), name="ledger_posting_held_after_non_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="posting",
            constraint=models.UniqueConstraint(
                fields=("account", "sequence"), name="ledger_posting_account_sequence_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="posting",
            index=models.Index(fields=["account", "posted_at", "sequence"], name="ledger_posting_account_asof"),
        ),
        vendor_sql(sqlite=SQLITE_IMMUTABLE, sqlite_reverse=SQLITE_IMMUTABLE),
    ]
