"""Invariants the database enforces on its own, whatever code writes to it.

PostgreSQL:
- A deferred constraint trigger checks, at commit, that the postings of every journal entry
  touched by the transaction sum to zero per currency. It reads only that entry's postings (index
  on entry_id), so its cost does not grow with history.
- Postings and journal entries are immutable: UPDATE and DELETE raise (TRUNCATE, used only by
  test teardown, is not a row operation).
SQLite (the embedded default) has no deferred triggers: there the zero-sum rule rests on
`entry_post` and `verify_ledger`, and immutability on UPDATE triggers.
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION ledger_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced_currency text;
BEGIN
    SELECT a.currency_id INTO unbalanced_currency
    FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id
    WHERE p.entry_id = NEW.entry_id
    GROUP BY a.currency_id
    HAVING SUM(p.amount) <> 0
    LIMIT 1;
    IF unbalanced_currency IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', NEW.entry_id, unbalanced_currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_posting_entry_balanced';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_posting_entry_balanced
    AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_must_balance();

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_journalentry_immutable BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS ledger_journalentry_immutable ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_posting_immutable ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_refuse_change();
DROP TRIGGER IF EXISTS ledger_posting_entry_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_entry_must_balance();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE ON ledger_posting
       BEGIN SELECT RAISE(ABORT, 'ledger_posting rows are immutable'); END;""",
    """CREATE TRIGGER ledger_journalentry_immutable BEFORE UPDATE ON ledger_journalentry
       BEGIN SELECT RAISE(ABORT, 'ledger_journalentry rows are immutable'); END;""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_posting_immutable;",
    "DROP TRIGGER IF EXISTS ledger_journalentry_immutable;",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_seed_currencies")]
    operations = [
        vendor_sql(
            postgresql=POSTGRES_FORWARD,
            postgresql_reverse=POSTGRES_REVERSE,
            sqlite=SQLITE_FORWARD,
            sqlite_reverse=SQLITE_REVERSE,
        )
    ]
