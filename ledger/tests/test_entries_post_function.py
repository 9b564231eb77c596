"""`ledger_entries_post` (PostgreSQL), called directly with SQL, bypassing the ORM and the Python
guards: all or none refuses the whole batch naming the refused entry's position with nothing
written; each on its own rolls back only the refused entry and applies the others in order."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from ledger.models import JournalEntry, Posting
from tests.fixtures import balance, ledger_snapshot

CALL = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds, refusal_state, refusal_account"
    " FROM ledger_entries_post(%s, %s, %s::bigint[], %s::text[], %s::text[], %s::text[], %s::integer[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::smallint[], %s::bigint[], %s::integer[],"
    " %s::bigint[], %s::bigint[])"
)
AVAILABLE_COVERS, BALANCE_AT_MOST = 1, 3
MAX = 2**63 - 1


def post_many(*, transfers, atomic: bool):
    """Transfers `(source, target, amount)` in one call, guards as the service computes them."""
    arrays: list[list] = [[] for _ in range(14)]
    (client_ids, kinds, references, metadata, account_counts, accounts, deltas, released, counts, guards,
     bounds, leg_counts, leg_accounts, leg_amounts) = arrays
    for source, target, amount in transfers:
        client_ids.append(source.client_id)
        kinds.append("transfer")
        references.append("")
        metadata.append("{}")
        account_counts.append(2)
        for account_id, delta, guard, bound in sorted(
            [(source.pk, -amount, AVAILABLE_COVERS, amount), (target.pk, amount, BALANCE_AT_MOST, MAX - amount)]
        ):
            accounts.append(account_id)
            deltas.append(delta)
            released.append(0)
            counts.append(1)
            guards.append(guard)
            bounds.append(bound)
        leg_counts.append(2)
        leg_accounts.extend([source.pk, target.pk])
        leg_amounts.extend([-amount, amount])
    with connection.cursor() as cursor:
        cursor.execute(CALL, [datetime.now(UTC), atomic, *arrays])
        return cursor.fetchall()


def test_all_or_none_with_a_refusal_mid_batch_writes_nothing_and_names_its_position(
    requires_postgres, alice_usd, bob_usd
):
    # given: alice 1,000.00, bob 250.00
    before = ledger_snapshot()
    # when: the second of three transfers takes more than bob has
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        post_many(transfers=[(alice_usd, bob_usd, 1_00), (bob_usd, alice_usd, 500_00), (alice_usd, bob_usd, 1)],
                  atomic=True)
    # then: the refusal, its account and its position (0-based), and nothing written
    cause = raised.value.__cause__
    assert (cause.sqlstate, cause.diag.message_primary, cause.diag.message_detail) == ("LG002", str(bob_usd.pk), "1")
    assert ledger_snapshot() == before


def test_each_on_its_own_applies_the_others_in_order(requires_postgres, alice_usd, bob_usd):
    # given: alice 1,000.00, bob 250.00
    entries = JournalEntry.objects.count()
    # when: the second transfer takes more than bob has, the first and third go through
    rows = post_many(
        transfers=[(alice_usd, bob_usd, 1_00), (bob_usd, alice_usd, 500_00), (bob_usd, alice_usd, 251_00)],
        atomic=False,
    )
    # then
    applied, refused, last = rows
    assert applied[0] is not None and applied[6] is None
    assert refused[0] is None and (refused[6], refused[7]) == ("LG002", str(bob_usd.pk))
    assert last[0] is not None and last[4] == [0, 1_250_00]  # bob gives all of his 251.00
    assert JournalEntry.objects.count() == entries + 2
    assert balance(alice_usd) == (1_000_00 - 1_00 + 251_00, 0) and balance(bob_usd) == (0, 0)
    postings = list(Posting.objects.filter(entry_id=last[0]).order_by("id"))
    assert [posting.pk for posting in postings] == last[2]
    call_command("verify_ledger")  # raises (exit 1) on any broken chain of running balances


def test_each_on_its_own_reports_an_inactive_account_and_goes_on(requires_postgres, alice_usd, bob_usd):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET is_active = false WHERE id = %s", [bob_usd.pk])
    rows = post_many(transfers=[(alice_usd, bob_usd, 1), (bob_usd, alice_usd, 1)], atomic=False)
    assert [(row[0], row[6], row[7]) for row in rows] == [(None, "LG001", str(bob_usd.pk))] * 2
