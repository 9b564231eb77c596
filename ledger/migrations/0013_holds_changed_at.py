"""`ledger_account.holds_changed_at` (PostgreSQL): the time of the latest hold opened or released
on the account, written by the UPDATE that moves `held` (`ledger.services.holds`) with the hold's
own `created_at`/`closed_at`. `ledger_entry_post` reads it back from its guarded UPDATE and
stamps the entry no earlier than it.

Why: the entry's time is the caller's clock, read before the statement waited for the row lock,
while a hold's time is read once its own lock is taken. A posting that queued behind a hold's
release could be stamped before the release, so "holds active at `posted_at`" (the as-of
`available`, `verify_ledger`'s held check) counted a hold its `held_after` no longer had. SQLite
stamps an entry when its INSERT runs, after the write lock is taken, so it needs no change.

A hold's `created_at` is set by `hold_create` (the same value it writes to the account) instead
of `auto_now_add`: a change of the model only, nothing in the database.
"""

import importlib

import django.utils.timezone
from django.db import migrations, models

from core.migration_sql import vendor_sql

_ENTRY_POST = importlib.import_module("ledger.migrations.0009_entry_post_function").POSTGRES_FORWARD
_SIGNATURE = (
    "timestamptz, bigint, text, text, jsonb, bigint, bigint[], bigint[], bigint[], integer[], smallint[], bigint[], "
    "bigint[], bigint[], bigint[]"
)
# Replacing a function resets its settings: plan once per connection, as migration 0012 set it.
_GENERIC_PLANS = f"\nALTER FUNCTION ledger_entry_post({_SIGNATURE}) SET plan_cache_mode = force_generic_plan;\n"


def _replaced(sql: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        if sql.count(old) != 1:
            raise ValueError(f"Expected once in ledger_entry_post: {old!r}")
        sql = sql.replace(old, new)
    return sql


POSTGRES_FORWARD = _replaced(
    _ENTRY_POST,
    ("CREATE FUNCTION ledger_entry_post(", "CREATE OR REPLACE FUNCTION ledger_entry_post("),
    ("    refused_hold bigint;\n", "    refused_hold bigint;\n    holds_changed timestamptz;\n    v_holds_changed timestamptz;\n"),
    (
        "RETURNING balance, held, sequence INTO new_balance, new_held, new_sequence;",
        "RETURNING balance, held, sequence, holds_changed_at INTO new_balance, new_held, new_sequence, holds_changed;",
    ),
    ("        held_now[i] := new_held;\n", "        held_now[i] := new_held;\n        v_holds_changed := greatest(v_holds_changed, holds_changed);\n"),
    (
        "SELECT greatest(p_now, max(last.posted_at)) INTO v_created_at",
        "SELECT greatest(p_now, max(last.posted_at), v_holds_changed) INTO v_created_at",
    ),
) + _GENERIC_PLANS
POSTGRES_REVERSE = _replaced(_ENTRY_POST, ("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")) + _GENERIC_PLANS

# Existing holds: the latest time any of them was opened or closed.
BACKFILL = """
UPDATE ledger_account SET holds_changed_at = (
    SELECT max(CASE WHEN hold.closed_at > hold.created_at THEN hold.closed_at ELSE hold.created_at END)
      FROM ledger_hold AS hold WHERE hold.account_id = ledger_account.id
) WHERE EXISTS (SELECT 1 FROM ledger_hold AS hold WHERE hold.account_id = ledger_account.id)
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0012_entry_post_request_function")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="holds_changed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="hold",
                    name="created_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        vendor_sql(postgresql=POSTGRES_FORWARD, postgresql_reverse=POSTGRES_REVERSE),
    ]
