"""Fewer indexes on the tables every money movement writes.

- `ledger_account` (client, currency, balance): no query reads it, and because it holds `balance`,
  every UPDATE that applies a posting had to write a new entry in each of the table's indexes;
  without it the UPDATE changes only unindexed columns and can be heap-only (HOT).
- `ledger_posting` (account, -id): no query reads it.
- `ledger_posting` (account) and `ledger_journalentry` (client), the foreign keys' own indexes:
  (account, sequence) and (client, kind, created_at) lead with the same column.

The foreign-key indexes are dropped by name rather than by AlterField, which on SQLite rebuilds
the table and with it would drop the immutability triggers (migration 0003).
"""

import django.db.models.deletion
from django.db import migrations, models

FOREIGN_KEY_INDEXES = [
    ("ledger_posting_account_id_964f801d", "ledger_posting", "account_id"),
    ("ledger_journalentry_client_id_807df4be", "ledger_journalentry", "client_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("ledger", "0010_entries_post_function"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="account", name="ledger_acco_client__0be40f_idx"),
        migrations.RemoveIndex(model_name="posting", name="ledger_post_account_19b161_idx"),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f"DROP INDEX {name}", f"CREATE INDEX {name} ON {table} ({column})")
                for name, table, column in FOREIGN_KEY_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="journalentry",
                    name="client",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT,
                        related_name="journal_entries", to="accounts.client",
                    ),
                ),
                migrations.AlterField(
                    model_name="posting",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT,
                        related_name="postings", to="ledger.account",
                    ),
                ),
            ],
        ),
    ]
