"""PostgreSQL: `ledger_entry_post_request`, a movement that is an API request's whole effect in one
statement (`ledger.services.posting_request` calls it, in autocommit): the `Idempotency-Key`
claim, `ledger_entry_post`, the users' movement counters and the review items they open, the
`transaction.created` event with its deliveries, and the stored reply. Its account rows are
therefore locked for one round trip: the statement's own, which commits as it ends.

In order, each step as the statements it replaces did it:
- the claim (when `p_scope` is given): the transaction-scoped advisory lock on the key, as the
  idempotency claim takes it (the caller already holds the key's session lock, taken before its
  handler ran, and releases it here, once the record is written); if another request holds it →
  'busy' (nothing done); a committed, unexpired record → 'taken' (nothing done); an expired one
  is deleted;
- `ledger_entry_post` (migration 0009), whose refusals raise LG001–LG004 and roll everything back;
- compliance: each user's counter for `p_minute` bumped (users in id order, after the accounts,
  the order the posting transaction always took them), the review items the caller decided from
  the amounts alone (`p_review_*`), and each velocity check (`p_velocity_*`) that this movement
  crosses (its window's movements are the limit plus one) and that no item of the same user and
  rule since the window's start already reports;
- the event, its deliveries (an enabled endpoint of the client that wants the type) and the
  stored reply, each rendered by the caller with sentinel values where only this statement knows
  the value; `ledger_template_fill` replaces each sentinel by the value's text, as the Python
  renderers write it (`ledger_text_timestamp`, `ledger_text_minor_units`; tested against them).
Returns the outcome ('posted', 'taken', 'busy'), then what `ledger_entry_post` returned, the
delivery ids and the reply as stored (the caller sends it as it is).

Both functions plan their statements once per connection (`plan_cache_mode =
force_generic_plan`): their parameters are arrays, for which PostgreSQL otherwise judges a
custom plan cheaper and plans every statement again on every call (measured: 0.1 ms per call of
`ledger_entry_post`, 0.3 ms of this one; every plan is an index lookup by key either way).
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION ledger_text_minor_units(p_minor bigint, p_scale integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    digits text := abs(p_minor::numeric)::text;
BEGIN
    IF length(digits) <= p_scale THEN
        digits := lpad(digits, p_scale + 1, '0');
    END IF;
    IF p_scale > 0 THEN
        digits := left(digits, length(digits) - p_scale) || '.' || right(digits, p_scale);
    END IF;
    RETURN CASE WHEN p_minor < 0 THEN '-' || digits ELSE digits END;
END;
$$;

CREATE FUNCTION ledger_text_timestamp(p_at timestamptz) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
DECLARE
    written text := to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US');
BEGIN
    -- Python's isoformat() leaves out a fraction of zero microseconds.
    IF right(written, 7) = '.000000' THEN
        RETURN left(written, -7) || 'Z';
    END IF;
    RETURN written || 'Z';
END;
$$;

CREATE FUNCTION ledger_template_fill(p_template text, p_sentinels text[], p_values text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    filled text := p_template;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_sentinels), 0) LOOP
        filled := replace(filled, p_sentinels[i], p_values[i]);
    END LOOP;
    RETURN filled;
END;
$$;

CREATE FUNCTION ledger_entry_post_request(
    p_now timestamptz,
    p_scope text, p_key text, p_request_hash text, p_lock_id bigint, p_expires_at timestamptz,
    p_status_code integer, p_content_type text, p_reply text,
    p_client_id bigint, p_kind text, p_reference text, p_metadata jsonb, p_reverses_id bigint,
    p_accounts bigint[], p_deltas bigint[], p_released bigint[], p_counts integer[],
    p_guards smallint[], p_bounds bigint[], p_leg_accounts bigint[], p_leg_amounts bigint[],
    p_captured_holds bigint[],
    p_sentinel_id text, p_sentinel_at text, p_sentinel_sequences text[], p_sentinel_balances text[],
    p_leg_scales integer[],
    p_event_public_id text, p_event_type text, p_event_data text,
    p_users bigint[], p_minute bigint,
    p_review_users bigint[], p_review_rules bigint[], p_review_details text[],
    p_velocity_users bigint[], p_velocity_rules bigint[], p_velocity_windows integer[],
    p_velocity_limits integer[], p_velocity_details text[]
) RETURNS TABLE (
    out_outcome text, out_entry_id bigint, out_created_at timestamptz, out_posting_ids bigint[],
    out_sequences bigint[], out_balances bigint[], out_helds bigint[], out_delivery_ids bigint[], out_reply text
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    posted record;
    record_expires timestamptz;
    sentinels text[];
    fills text[];
BEGIN
    IF p_scope IS NOT NULL THEN
        IF NOT pg_try_advisory_xact_lock(p_lock_id) THEN
            out_outcome := CASE WHEN EXISTS (
                SELECT 1 FROM core_idempotencyrecord AS record WHERE record.scope = p_scope AND record.key = p_key
            ) THEN 'taken' ELSE 'busy' END;
            RETURN NEXT;
            RETURN;
        END IF;
        SELECT record.expires_at INTO record_expires
          FROM core_idempotencyrecord AS record WHERE record.scope = p_scope AND record.key = p_key;
        IF FOUND THEN
            IF record_expires > p_now THEN
                out_outcome := 'taken';
                RETURN NEXT;
                RETURN;
            END IF;
            DELETE FROM core_idempotencyrecord AS record WHERE record.scope = p_scope AND record.key = p_key;
        END IF;
    END IF;

    SELECT * INTO posted FROM ledger_entry_post(
        p_now, p_client_id, p_kind, p_reference, p_metadata, p_reverses_id, p_accounts, p_deltas, p_released,
        p_counts, p_guards, p_bounds, p_leg_accounts, p_leg_amounts, p_captured_holds
    );

    IF cardinality(p_users) > 0 THEN
        INSERT INTO operations_movementcount (user_id, minute, movements)
        SELECT mover.user_id, p_minute, 1 FROM unnest(p_users) AS mover(user_id) ORDER BY mover.user_id
        ON CONFLICT (user_id, minute) DO UPDATE SET movements = operations_movementcount.movements + 1;
    END IF;
    IF cardinality(p_review_users) > 0 THEN
        INSERT INTO operations_reviewitem (client_id, user_id, entry_id, rule_id, detail, status, note, created_at)
        SELECT p_client_id, item.user_id, posted.entry_id, item.rule_id, item.detail, 'open', '', p_now
          FROM unnest(p_review_users, p_review_rules, p_review_details) WITH ORDINALITY
               AS item(user_id, rule_id, detail, position)
         ORDER BY item.position;
    END IF;
    IF cardinality(p_velocity_users) > 0 THEN
        INSERT INTO operations_reviewitem (client_id, user_id, entry_id, rule_id, detail, status, note, created_at)
        SELECT p_client_id, velocity.user_id, posted.entry_id, velocity.rule_id, velocity.detail, 'open', '', p_now
          FROM unnest(p_velocity_users, p_velocity_rules, p_velocity_windows, p_velocity_limits, p_velocity_details)
               WITH ORDINALITY AS velocity(user_id, rule_id, window_minutes, max_movements, detail, position)
         WHERE (SELECT sum(counter.movements) FROM operations_movementcount AS counter
                 WHERE counter.user_id = velocity.user_id
                   AND counter.minute > p_minute - velocity.window_minutes AND counter.minute <= p_minute)
               = velocity.max_movements + 1
           AND NOT EXISTS (SELECT 1 FROM operations_reviewitem AS earlier
                            WHERE earlier.user_id = velocity.user_id AND earlier.rule_id = velocity.rule_id
                              AND earlier.created_at >= p_now - make_interval(mins => velocity.window_minutes))
         ORDER BY velocity.position;
    END IF;

    sentinels := ARRAY[p_sentinel_id, p_sentinel_at] || p_sentinel_sequences || p_sentinel_balances;
    fills := ARRAY[posted.entry_id::text, ledger_text_timestamp(posted.created_at)];
    FOR leg IN 1 .. cardinality(p_leg_scales) LOOP
        fills[2 + leg] := posted.sequences[leg]::text;
        fills[2 + cardinality(p_leg_scales) + leg] := ledger_text_minor_units(posted.balances[leg], p_leg_scales[leg]);
    END LOOP;

    WITH event AS (
        INSERT INTO events_event (public_id, type, client_id, created_at, data)
        VALUES (p_event_public_id, p_event_type, p_client_id, p_now,
                ledger_template_fill(p_event_data, sentinels, fills)::jsonb)
        RETURNING id, created_at
    ), deliveries AS (
        INSERT INTO events_webhookdelivery (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
        SELECT event.id, endpoint.id, 'pending', 0, event.created_at, event.created_at
          FROM event, events_webhookendpoint AS endpoint
         WHERE endpoint.client_id = p_client_id AND endpoint.is_enabled
           AND (endpoint.event_types = '[]'::jsonb OR endpoint.event_types @> jsonb_build_array(p_event_type))
        RETURNING id
    )
    SELECT ARRAY(SELECT id FROM deliveries ORDER BY id) INTO out_delivery_ids;

    IF p_scope IS NOT NULL THEN
        -- The reply as stored is the reply sent (returned below).
        out_reply := ledger_template_fill(p_reply, sentinels, fills);
        INSERT INTO core_idempotencyrecord
               (scope, key, request_hash, status_code, response_body, content_type, created_at, expires_at)
        VALUES (p_scope, p_key, p_request_hash, p_status_code, out_reply, p_content_type, p_now, p_expires_at);
        -- The caller's session lock on the key (taken before its handler ran) ends here; the
        -- transaction's own lock keeps the key until this statement commits.
        PERFORM pg_advisory_unlock(p_lock_id);
    END IF;

    out_outcome := 'posted';
    out_entry_id := posted.entry_id;
    out_created_at := posted.created_at;
    out_posting_ids := posted.posting_ids;
    out_sequences := posted.sequences;
    out_balances := posted.balances;
    out_helds := posted.helds;
    RETURN NEXT;
END;
$$;

-- The same for the ledger's own function, which a batch calls once per entry.
ALTER FUNCTION ledger_entry_post(
    timestamptz, bigint, text, text, jsonb, bigint, bigint[], bigint[], bigint[], integer[], smallint[], bigint[], bigint[],
    bigint[], bigint[]
) SET plan_cache_mode = force_generic_plan;
"""

POSTGRES_REVERSE = """
ALTER FUNCTION ledger_entry_post(
    timestamptz, bigint, text, text, jsonb, bigint, bigint[], bigint[], bigint[], integer[], smallint[], bigint[], bigint[],
    bigint[], bigint[]
) RESET plan_cache_mode;
DROP FUNCTION ledger_entry_post_request(
    timestamptz, text, text, text, bigint, timestamptz, integer, text, text, bigint, text, text, jsonb, bigint,
    bigint[], bigint[], bigint[], integer[], smallint[], bigint[], bigint[], bigint[], bigint[], text, text, text[],
    text[], integer[], text, text, text, bigint[], bigint, bigint[], bigint[], text[], bigint[], bigint[], integer[],
    integer[], text[]
);
DROP FUNCTION ledger_template_fill(text, text[], text[]);
DROP FUNCTION ledger_text_timestamp(timestamptz);
DROP FUNCTION ledger_text_minor_units(bigint, integer);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_cache_table"),
        ("events", "0004_fewer_event_indexes"),
        ("ledger", "0011_fewer_indexes_on_hot_tables"),
        ("operations", "0005_movement_count_no_user_index"),
    ]
    operations = [vendor_sql(postgresql=POSTGRES_FORWARD, postgresql_reverse=POSTGRES_REVERSE)]
