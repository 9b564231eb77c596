"""Running balances on postings (step 2 of 3): backfill every existing posting, in SQL.

What is written, per account:
- `sequence`: 1, 2, 3 … over the account's postings ordered by (entry id, posting id). Entries
  were written under the account's row lock, and an entry's id is taken after the balance
  updates, so this is the order in which the balances were changed.
- `balance_after`: the running sum of the amounts in that order; the last one equals the
  account's balance whenever `verify_ledger` passes.
- `posted_at`: the entry's `created_at`.
- `held_after`: the sum of the account's holds active at `posted_at` (created at or before it,
  closed after it or still open). Holds are created, released and captured under the same account
  row lock as postings, and a captured hold is closed before its entry is created, so the
  timestamps order them the same way as the balance updates; this is exact unless the clock of
  the writing servers went backwards.
- The account's `sequence`: its number of postings.

One UPDATE … FROM over a window query (SQLite ≥ 3.33 and PostgreSQL both run it). The posting
immutability triggers (migration 0003) are lifted for the duration of this migration only.
"""

from django.db import migrations

BACKFILL = """
UPDATE ledger_posting
SET sequence = history.sequence,
    balance_after = history.balance_after,
    held_after = history.held_after,
    posted_at = history.posted_at
FROM (
    SELECT p.id AS id,
           ROW_NUMBER() OVER (PARTITION BY p.account_id ORDER BY p.entry_id, p.id) AS sequence,
           SUM(p.amount) OVER (
               PARTITION BY p.account_id ORDER BY p.entry_id, p.id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS balance_after,
           COALESCE((
               SELECT SUM(h.amount) FROM ledger_hold h
               WHERE h.account_id = p.account_id
                 AND h.created_at <= e.created_at
                 AND (h.closed_at IS NULL OR h.closed_at > e.created_at)
           ), 0) AS held_after,
           e.created_at AS posted_at
    FROM ledger_posting p JOIN ledger_journalentry e ON e.id = p.entry_id
) AS history
WHERE ledger_posting.id = history.id
"""

ACCOUNT_SEQUENCE = """
UPDATE ledger_account
SET sequence = (SELECT COUNT(*) FROM ledger_posting p WHERE p.account_id = ledger_account.id)
"""

SQLITE_IMMUTABLE = """CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE ON ledger_posting
       BEGIN SELECT RAISE(ABORT, 'ledger_posting rows are immutable'); END;"""


def backfill(apps, schema_editor):
    execute = schema_editor.execute
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        execute("ALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_immutable")
    elif vendor == "sqlite":
        execute("DROP TRIGGER IF EXISTS ledger_posting_immutable")
    execute(BACKFILL)
    execute(ACCOUNT_SEQUENCE)
    if vendor == "postgresql":
        execute("ALTER TABLE ledger_posting ENABLE TRIGGER ledger_posting_immutable")
    elif vendor == "sqlite":
        execute(SQLITE_IMMUTABLE)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_posting_running_balances")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
