"""PostgreSQL: `ledger_entry_post`, an entry's balance updates, the entry and its postings in one
round trip (`ledger.services.posting_postgresql` calls it; SQLite runs the same steps as separate statements).

It does exactly what the statements it replaces did, in the same order:
- one guarded `UPDATE … RETURNING` per account, in the order given (the caller sorts by primary
  key, the lock order every movement keeps); the guard is the same WHERE clause, chosen by code
  (1 available covers the debit, 2 balance at least, 3 balance at most, 0 none);
- a refused update raises with SQLSTATE LG001 (account inactive), LG002 (insufficient available
  funds) or LG003 (the balance would leave 64 bits), the account id as the message; the caller
  maps them to its domain errors, and the transaction (or its savepoint) rolls back;
- first, with captured holds (`p_captured_holds`): the accounts locked in the given order, then
  the holds closed (accounts, then holds: the order every hold release keeps); one that is no
  longer active raises LG004 with its id, before any balance moves;
- the entry, stamped with the caller's clock (`p_now`, Django's `timezone.now()` as the ORM would
  stamp it) or, if later, the time of the last posting on any of its accounts, read under the row
  lock: on each account `posted_at` never decreases as `sequence` grows, even when the web
  processes' clocks disagree (the as-of reads rely on it);
- the postings, in leg order, each with the account's sequence, running balance and held after
  it (an account with several legs gets consecutive sequences).
Returns the entry id, its timestamp, and the postings' ids, sequences, balances and held, in leg
order.
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION ledger_entry_post(
    p_now timestamptz, p_client_id bigint, p_kind text, p_reference text, p_metadata jsonb, p_reverses_id bigint,
    p_accounts bigint[], p_deltas bigint[], p_released bigint[], p_counts integer[],
    p_guards smallint[], p_bounds bigint[], p_leg_accounts bigint[], p_leg_amounts bigint[],
    p_captured_holds bigint[] DEFAULT '{}'
) RETURNS TABLE (
    entry_id bigint, created_at timestamptz, posting_ids bigint[], sequences bigint[],
    balances bigint[], helds bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    running_balance bigint[] := '{}';
    running_sequence bigint[] := '{}';
    held_now bigint[] := '{}';
    new_balance bigint;
    new_held bigint;
    new_sequence bigint;
    account_at integer;
    v_entry_id bigint;
    v_created_at timestamptz;
    leg_sequences bigint[] := '{}';
    leg_balances bigint[] := '{}';
    leg_helds bigint[] := '{}';
    refused_hold bigint;
BEGIN
    IF cardinality(p_captured_holds) > 0 THEN
        -- Accounts, then holds (the order of every hold release): lock, close the holds, then
        -- the updates take their amount out of `held`.
        PERFORM 1 FROM ledger_account WHERE id = ANY (p_accounts) ORDER BY id FOR UPDATE;
        SELECT min(id) INTO refused_hold FROM ledger_hold
         WHERE id = ANY (p_captured_holds) AND status <> 'active';
        IF refused_hold IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'LG004', MESSAGE = refused_hold::text;
        END IF;
        UPDATE ledger_hold SET status = 'captured', closed_at = p_now WHERE id = ANY (p_captured_holds);
    END IF;

    FOR i IN 1 .. array_length(p_accounts, 1) LOOP
        UPDATE ledger_account
           SET balance = balance + p_deltas[i], held = held - p_released[i], sequence = sequence + p_counts[i]
         WHERE id = p_accounts[i] AND is_active
           AND CASE p_guards[i]
                   WHEN 1 THEN balance - held >= p_bounds[i]
                   WHEN 2 THEN balance >= p_bounds[i]
                   WHEN 3 THEN balance <= p_bounds[i]
                   ELSE true
               END
        RETURNING balance, held, sequence INTO new_balance, new_held, new_sequence;
        IF NOT FOUND THEN
            IF NOT EXISTS (SELECT 1 FROM ledger_account WHERE id = p_accounts[i] AND is_active) THEN
                RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = p_accounts[i]::text;
            ELSIF p_guards[i] = 1 THEN
                RAISE EXCEPTION USING ERRCODE = 'LG002', MESSAGE = p_accounts[i]::text;
            ELSE
                RAISE EXCEPTION USING ERRCODE = 'LG003', MESSAGE = p_accounts[i]::text;
            END IF;
        END IF;
        running_balance[i] := new_balance - p_deltas[i];
        running_sequence[i] := new_sequence - p_counts[i];
        held_now[i] := new_held;
    END LOOP;


    SELECT greatest(p_now, max(last.posted_at)) INTO v_created_at
      FROM unnest(p_accounts) AS locked(account_id)
      CROSS JOIN LATERAL (
          SELECT posting.posted_at FROM ledger_posting AS posting
           WHERE posting.account_id = locked.account_id ORDER BY posting.sequence DESC LIMIT 1
      ) AS last;
    INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, reverses_id, created_at)
    VALUES (p_client_id, p_kind, p_reference, p_metadata, p_reverses_id, v_created_at)
    RETURNING id INTO v_entry_id;

    FOR k IN 1 .. array_length(p_leg_accounts, 1) LOOP
        account_at := array_position(p_accounts, p_leg_accounts[k]);
        running_balance[account_at] := running_balance[account_at] + p_leg_amounts[k];
        running_sequence[account_at] := running_sequence[account_at] + 1;
        leg_sequences[k] := running_sequence[account_at];
        leg_balances[k] := running_balance[account_at];
        leg_helds[k] := held_now[account_at];
    END LOOP;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at)
        SELECT v_entry_id, leg.account_id, leg.amount, leg.sequence, leg.balance_after, leg.held_after, v_created_at
          FROM unnest(p_leg_accounts, p_leg_amounts, leg_sequences, leg_balances, leg_helds)
               WITH ORDINALITY AS leg(account_id, amount, sequence, balance_after, held_after, position)
         ORDER BY leg.position
        RETURNING id
    )
    SELECT v_entry_id, v_created_at, (SELECT array_agg(id ORDER BY id) FROM inserted),
           leg_sequences, leg_balances, leg_helds;
END;
$$;
"""

POSTGRES_REVERSE = """
DROP FUNCTION ledger_entry_post(
    timestamptz, bigint, text, text, jsonb, bigint, bigint[], bigint[], bigint[], integer[], smallint[], bigint[], bigint[], bigint[],
    bigint[]
);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_account_kind_custody")]
    operations = [vendor_sql(postgresql=POSTGRES_FORWARD, postgresql_reverse=POSTGRES_REVERSE)]
