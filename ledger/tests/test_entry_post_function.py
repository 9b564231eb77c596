"""`ledger_entry_post` (PostgreSQL), called directly with SQL, bypassing the ORM and the Python
guards: it refuses what the guarded updates refuse with nothing written, writes running balances
the way `verify_ledger` checks them, and never lets an account's `posted_at` go backwards."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from ledger.models import Posting
from ledger.services import hold_create, hold_release
from tests.fixtures import balance, ledger_snapshot

CALL = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds FROM ledger_entry_post("
    "%s, %s, 'transfer', '', '{}'::jsonb, NULL, %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[],"
    " %s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[])"
)
AVAILABLE_COVERS, BALANCE_AT_MOST = 1, 3
MAX = 2**63 - 1


def post(*, now, source, target, amount: int):
    """A transfer of `amount` from `source` to `target`, guards as the service computes them."""
    first, second = sorted(
        [(source.pk, -amount, AVAILABLE_COVERS, amount), (target.pk, amount, BALANCE_AT_MOST, MAX - amount)]
    )
    with connection.cursor() as cursor:
        cursor.execute(CALL, [
            now, source.client_id, [first[0], second[0]], [first[1], second[1]], [0, 0], [1, 1],
            [first[2], second[2]], [first[3], second[3]], [source.pk, target.pk], [-amount, amount],
        ])
        return cursor.fetchone()


def test_the_function_writes_the_entry_its_postings_and_their_running_balances(requires_postgres, alice_usd, bob_usd):
    entry_id, created_at, posting_ids, sequences, balances, helds = post(
        now=datetime.now(UTC), source=alice_usd, target=bob_usd, amount=1_00
    )
    postings = list(Posting.objects.filter(entry_id=entry_id).order_by("id"))
    assert [posting.pk for posting in postings] == posting_ids
    assert [(p.account_id, p.amount, p.balance_after, p.sequence) for p in postings] == [
        (alice_usd.pk, -1_00, 999_00, sequences[0]),
        (bob_usd.pk, 1_00, 251_00, sequences[1]),
    ]
    assert balances == [999_00, 251_00] and helds == [0, 0]
    assert balance(alice_usd) == (999_00, 0) and balance(bob_usd) == (251_00, 0)
    call_command("verify_ledger")  # raises (exit 1) on any broken chain of running balances


@pytest.mark.parametrize("amount", [1_000_00 + 1, MAX])
def test_an_overdraft_raises_with_nothing_written(requires_postgres, alice_usd, bob_usd, amount):
    before = ledger_snapshot()
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        post(now=datetime.now(UTC), source=alice_usd, target=bob_usd, amount=amount)
    assert raised.value.__cause__.sqlstate in ("LG002", "LG003")
    assert raised.value.__cause__.diag.message_primary in (str(alice_usd.pk), str(bob_usd.pk))
    assert ledger_snapshot() == before


def test_an_inactive_account_raises_with_nothing_written(requires_postgres, alice_usd, bob_usd):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET is_active = false WHERE id = %s", [bob_usd.pk])
    before = ledger_snapshot()
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        post(now=datetime.now(UTC), source=alice_usd, target=bob_usd, amount=1)
    assert raised.value.__cause__.sqlstate == "LG001"
    assert ledger_snapshot() == before


def test_posted_at_never_goes_back_on_an_account_whatever_the_callers_clock(requires_postgres, alice_usd, bob_usd):
    _, later, *_ = post(now=datetime(2030, 1, 1, tzinfo=UTC), source=alice_usd, target=bob_usd, amount=1)
    # A web process whose clock is behind: the entry takes the account's last time instead.
    _, created_at, *_ = post(now=datetime(2020, 1, 1, tzinfo=UTC), source=bob_usd, target=alice_usd, amount=1)
    assert created_at == later
    times = list(Posting.objects.filter(account=alice_usd).order_by("sequence").values_list("posted_at", flat=True))
    assert times == sorted(times)


def test_a_captured_hold_no_longer_active_raises_with_nothing_written(requires_postgres, alice_usd, bob_usd):
    hold = hold_create(account=alice_usd, amount=5_00)
    hold_release(hold=hold)
    before = ledger_snapshot()
    with pytest.raises(DatabaseError) as raised, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CALL.replace("%s::bigint[])", "%s::bigint[], %s::bigint[])"), [
            datetime.now(UTC), alice_usd.client_id, [alice_usd.pk, bob_usd.pk], [-1_00, 1_00], [5_00, 0], [1, 1],
            [AVAILABLE_COVERS, BALANCE_AT_MOST], [1_00 - 5_00, MAX - 1_00], [alice_usd.pk, bob_usd.pk], [-1_00, 1_00],
            [hold.pk],
        ])
    assert raised.value.__cause__.sqlstate == "LG004"
    assert raised.value.__cause__.diag.message_primary == str(hold.pk)
    assert ledger_snapshot() == before


def test_a_posting_queued_behind_a_hold_change_is_stamped_after_it(requires_postgres, alice_usd, bob_usd):
    # The caller read its clock, then waited for the row while a hold was opened and released:
    # the entry is stamped after both, so the holds active at its time are what its held_after says.
    clock_read = datetime.now(UTC)
    hold = hold_create(account=alice_usd, amount=25_00)
    hold_release(hold=hold)
    hold.refresh_from_db()
    _, created_at, _, _, _, helds = post(now=clock_read, source=alice_usd, target=bob_usd, amount=1_00)
    assert helds == [0, 0]
    assert created_at >= hold.closed_at > hold.created_at > clock_read
    alice_usd.refresh_from_db()
    assert alice_usd.holds_changed_at == hold.closed_at
    call_command("verify_ledger")  # raises (exit 1) when held_after disagrees with the holds active then


def test_an_open_hold_is_active_at_the_time_of_a_posting_that_queued_behind_it(requires_postgres, alice_usd, bob_usd):
    clock_read = datetime.now(UTC)
    hold = hold_create(account=alice_usd, amount=25_00)
    _, created_at, _, _, _, helds = post(now=clock_read, source=alice_usd, target=bob_usd, amount=1_00)
    assert helds == [25_00, 0]  # in leg order: alice's, then bob's
    assert created_at >= hold.created_at
    call_command("verify_ledger")


def test_a_hold_opened_after_a_posting_from_a_clock_ahead_is_stamped_after_it(requires_postgres, alice_usd, bob_usd):
    # A web process whose clock runs ahead posted last: a hold opened now, which that posting's
    # held_after did not count, must not read as active at the posting's time.
    _, ahead, *_ = post(now=datetime(2030, 1, 1, tzinfo=UTC), source=alice_usd, target=bob_usd, amount=1_00)
    hold = hold_create(account=alice_usd, amount=25_00)
    assert hold.created_at > ahead
    hold.refresh_from_db()
    alice_usd.refresh_from_db()
    assert alice_usd.holds_changed_at == hold.created_at
    call_command("verify_ledger")
