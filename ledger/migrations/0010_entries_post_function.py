"""PostgreSQL: `ledger_entries_post`, many entries posted in order in one round trip
(`ledger.services.entries.entries_post` calls it for a batch; SQLite posts them one by one).

Each entry goes through `ledger_entry_post` (migration 0009) exactly as a single entry does: the
same guarded updates, refusals, timestamps and running balances. The entries' arrays are passed
flattened, with per entry the number of accounts (`p_account_counts`) and of legs
(`p_leg_counts`) that are its share of them.

- `p_atomic` true: all or none. The first refusal is raised again with its SQLSTATE (LG001,
  LG002, LG003 or 22003 for a running balance past 64 bits), the account id as the message and
  the entry's position (0-based) as the DETAIL; the block around the loop has rolled back every
  entry before it, and the caller's transaction ends with the error.
- `p_atomic` false: each entry in a block of its own (a subtransaction, as a savepoint per item
  was), so a refused entry rolls back alone; its row comes back with a null `entry_id`, the
  SQLSTATE and the account id, and the next entry goes on. Any other error ends the call.
Returns one row per entry, in order: what `ledger_entry_post` returns, or the refusal.
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION ledger_entries_post(
    p_now timestamptz, p_atomic boolean, p_client_ids bigint[], p_kinds text[], p_references text[],
    p_metadata text[], p_account_counts integer[], p_accounts bigint[], p_deltas bigint[], p_released bigint[],
    p_counts integer[], p_guards smallint[], p_bounds bigint[], p_leg_counts integer[],
    p_leg_accounts bigint[], p_leg_amounts bigint[]
) RETURNS TABLE (
    entry_id bigint, created_at timestamptz, posting_ids bigint[], sequences bigint[],
    balances bigint[], helds bigint[], refusal_state text, refusal_account text
) LANGUAGE plpgsql AS $$
DECLARE
    account_from integer := 1;
    leg_from integer := 1;
    account_to integer;
    leg_to integer;
    current_entry integer := 0;
    posted record;
BEGIN
    IF p_atomic THEN
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
                current_entry := i - 1;
                account_to := account_from + p_account_counts[i] - 1;
                leg_to := leg_from + p_leg_counts[i] - 1;
                SELECT * INTO posted FROM ledger_entry_post(
                    p_now, p_client_ids[i], p_kinds[i], p_references[i], p_metadata[i]::jsonb, NULL,
                    p_accounts[account_from:account_to], p_deltas[account_from:account_to],
                    p_released[account_from:account_to], p_counts[account_from:account_to],
                    p_guards[account_from:account_to], p_bounds[account_from:account_to],
                    p_leg_accounts[leg_from:leg_to], p_leg_amounts[leg_from:leg_to]
                );
                entry_id := posted.entry_id; created_at := posted.created_at; posting_ids := posted.posting_ids;
                sequences := posted.sequences; balances := posted.balances; helds := posted.helds;
                refusal_state := NULL; refusal_account := NULL;
                RETURN NEXT;
                account_from := account_to + 1;
                leg_from := leg_to + 1;
            END LOOP;
        EXCEPTION WHEN SQLSTATE 'LG001' OR SQLSTATE 'LG002' OR SQLSTATE 'LG003' OR numeric_value_out_of_range THEN
            RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = SQLERRM, DETAIL = current_entry::text;
        END;
        RETURN;
    END IF;

    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        account_to := account_from + p_account_counts[i] - 1;
        leg_to := leg_from + p_leg_counts[i] - 1;
        BEGIN
            SELECT * INTO posted FROM ledger_entry_post(
                p_now, p_client_ids[i], p_kinds[i], p_references[i], p_metadata[i]::jsonb, NULL,
                p_accounts[account_from:account_to], p_deltas[account_from:account_to],
                p_released[account_from:account_to], p_counts[account_from:account_to],
                p_guards[account_from:account_to], p_bounds[account_from:account_to],
                p_leg_accounts[leg_from:leg_to], p_leg_amounts[leg_from:leg_to]
            );
            entry_id := posted.entry_id; created_at := posted.created_at; posting_ids := posted.posting_ids;
            sequences := posted.sequences; balances := posted.balances; helds := posted.helds;
            refusal_state := NULL; refusal_account := NULL;
        EXCEPTION WHEN SQLSTATE 'LG001' OR SQLSTATE 'LG002' OR SQLSTATE 'LG003' OR numeric_value_out_of_range THEN
            entry_id := NULL; created_at := NULL; posting_ids := NULL;
            sequences := NULL; balances := NULL; helds := NULL;
            refusal_state := SQLSTATE; refusal_account := SQLERRM;
        END;
        RETURN NEXT;
        account_from := account_to + 1;
        leg_from := leg_to + 1;
    END LOOP;
END;
$$;
"""

POSTGRES_REVERSE = """
DROP FUNCTION ledger_entries_post(
    timestamptz, boolean, bigint[], text[], text[], text[], integer[], bigint[], bigint[], bigint[], integer[],
    smallint[], bigint[], integer[], bigint[], bigint[]
);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_entry_post_function")]
    operations = [vendor_sql(postgresql=POSTGRES_FORWARD, postgresql_reverse=POSTGRES_REVERSE)]
