"""The database refuses what the services never write, whoever writes it.

Every test here bypasses the services and the model layer's validation (raw SQL or a queryset
`.update()`), and shows the exact error the database raises.
"""

from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import Account, Hold, JournalEntry, Posting
from ledger.services import hold_create, transfer_create, transfer_reverse
from tests.factories import ClientFactory, EndUserFactory, open_account
from tests.fixtures import ledger_snapshot


def execute(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def insert_account(*, client_id: int, user_id: int | None, currency: str, kind: str, allows_negative: bool) -> None:
    execute(
        "INSERT INTO ledger_account (client_id, user_id, currency_id, kind, balance, held, allows_negative,"
        " is_active, created_at) VALUES (%s, %s, %s, %s, 0, 0, %s, %s, CURRENT_TIMESTAMP)",
        [client_id, user_id, currency, kind, allows_negative, True],
    )


def insert_entry(*, client_id: int, reverses_id: int | None = None) -> int:
    execute(
        "INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, reverses_id, created_at)"
        " VALUES (%s, 'adjustment', '', '{}', %s, CURRENT_TIMESTAMP)",
        [client_id, reverses_id],
    )
    return JournalEntry.objects.order_by("-pk").values_list("pk", flat=True)[0]


def insert_posting(*, entry_id: int, account_id: int, amount: int) -> None:
    execute(
        "INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at)"
        " VALUES (%s, %s, %s, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM ledger_posting WHERE account_id = %s),"
        " %s, 0, CURRENT_TIMESTAMP)",
        [entry_id, account_id, amount, account_id, amount],
    )


@contextmanager
def refused(constraint: str):
    """The statements fail with IntegrityError naming `constraint`, rolled back to a savepoint."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


# Check and unique constraints (both databases)


def test_a_user_balance_cannot_be_set_negative(alice_usd):
    before = ledger_snapshot()

    with refused("ledger_account_balance_non_negative"):
        Account.objects.filter(pk=alice_usd.pk).update(balance=-1, held=0)

    assert ledger_snapshot() == before


def test_held_cannot_exceed_the_balance(alice_usd):
    with refused("ledger_account_held_within_balance"):
        Account.objects.filter(pk=alice_usd.pk).update(held=100_001)

    assert Account.objects.get(pk=alice_usd.pk).held == 0


def test_held_cannot_be_negative_even_where_the_balance_may_be(usd_funding):
    # The funding account may go negative, so only held_non_negative stands in the way.
    with refused("ledger_account_held_non_negative"):
        Account.objects.filter(pk=usd_funding.pk).update(held=-1)

    assert Account.objects.get(pk=usd_funding.pk).held == 0


def test_a_system_account_that_may_go_negative_may_go_negative(usd_funding):
    # The counterpart of the check above: the constraint is scoped, not global.
    assert Account.objects.get(pk=usd_funding.pk).balance < 0


def test_a_user_account_cannot_be_allowed_to_go_negative(alice_usd):
    with refused("ledger_account_user_never_negative"):
        Account.objects.filter(pk=alice_usd.pk).update(allows_negative=True)

    assert not Account.objects.get(pk=alice_usd.pk).allows_negative


def test_a_user_account_must_belong_to_a_user(alice_usd):
    with refused("ledger_account_user_matches_kind"):
        Account.objects.filter(pk=alice_usd.pk).update(kind=Account.Kind.FEE_REVENUE)


def test_a_posting_cannot_be_zero(alice_usd, client_tenant):
    before = ledger_snapshot()

    with refused("ledger_posting_amount_non_zero"):
        entry_id = insert_entry(client_id=client_tenant.pk)
        insert_posting(entry_id=entry_id, account_id=alice_usd.pk, amount=0)

    assert ledger_snapshot() == before


def test_a_user_has_one_account_per_currency(alice, alice_usd):
    with refused("ledger_account_one_per_user_currency|UNIQUE constraint failed: ledger_account.user_id"):
        insert_account(client_id=alice.client_id, user_id=alice.pk, currency="USD", kind="user",
                       allows_negative=False)

    assert Account.objects.filter(user=alice).count() == 1


def test_a_client_has_one_system_account_per_kind_and_currency(usd_funding, client_tenant):
    with refused("ledger_account_one_system_account_per_kind|UNIQUE constraint failed: ledger_account.client_id"):
        insert_account(client_id=client_tenant.pk, user_id=None, currency="USD", kind="funding",
                       allows_negative=True)

    assert Account.objects.filter(client=client_tenant, kind="funding").count() == 1


def test_an_entry_is_reversed_at_most_once(alice_usd, bob_usd):
    # given a transfer already reversed through the service
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    transfer_reverse(entry=original)
    before = ledger_snapshot()

    # when a second reversal row is written directly, then the one-to-one column refuses it
    with refused("ledger_journalentry_reverses_id|UNIQUE constraint failed: ledger_journalentry.reverses_id"):
        insert_entry(client_id=original.client_id, reverses_id=original.pk)

    assert ledger_snapshot() == before


def test_a_hold_must_be_positive(alice_usd):
    hold = hold_create(account=alice_usd, amount=100)

    with refused("ledger_hold_amount_positive"):
        Hold.objects.filter(pk=hold.pk).update(amount=0)


# Immutability (UPDATE refused on both databases, DELETE on PostgreSQL)


@pytest.fixture
def transfer(alice_usd, bob_usd):
    return transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)


def test_a_posting_cannot_be_updated(transfer):
    before = ledger_snapshot()

    with refused("ledger_posting rows are immutable"):
        Posting.objects.filter(entry=transfer).update(amount=5)

    assert ledger_snapshot() == before
    assert sorted(Posting.objects.filter(entry=transfer).values_list("amount", flat=True)) == [-100, 100]


def test_a_journal_entry_cannot_be_updated(transfer):
    with refused("ledger_journalentry rows are immutable"):
        JournalEntry.objects.filter(pk=transfer.pk).update(reference="rewritten")

    assert JournalEntry.objects.get(pk=transfer.pk).reference == ""


def test_a_posting_cannot_be_updated_by_raw_sql(transfer):
    with refused("ledger_posting rows are immutable"):
        execute("UPDATE ledger_posting SET account_id = account_id WHERE entry_id = %s", [transfer.pk])


@pytest.fixture
def deletes_are_refused(db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no DELETE triggers: Django empties SQLite test tables with DELETE, not TRUNCATE")


def test_a_posting_cannot_be_deleted(deletes_are_refused, transfer):
    before = ledger_snapshot()

    with refused("ledger_posting rows are immutable"):
        execute("DELETE FROM ledger_posting WHERE entry_id = %s", [transfer.pk])

    assert ledger_snapshot() == before


def test_a_journal_entry_cannot_be_deleted(deletes_are_refused, alice_usd, client_tenant):
    # An entry without postings, so only the trigger (not the posting foreign key) can refuse it.
    with transaction.atomic():
        entry_id = insert_entry(client_id=client_tenant.pk)

    with refused("ledger_journalentry rows are immutable"):
        execute("DELETE FROM ledger_journalentry WHERE id = %s", [entry_id])

    assert JournalEntry.objects.filter(pk=entry_id).exists()


# The deferred zero-sum trigger (PostgreSQL: SQLite has no deferred triggers)


@pytest.fixture
def committed_accounts(requires_postgres):
    """Two funded user accounts of one client, in a database whose transactions really commit."""
    client = ClientFactory()
    return (
        open_account(EndUserFactory(client=client), "USD", deposit=10_000),
        open_account(EndUserFactory(client=client), "USD"),
        open_account(EndUserFactory(client=client), "BTC"),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_unbalanced_entry_is_refused_at_commit(committed_accounts):
    source, destination, _ = committed_accounts
    before = ledger_snapshot()

    # when an entry with a single posting is written by raw SQL, then each INSERT succeeds …
    with (
        pytest.raises(IntegrityError, match=r"journal entry \d+ does not balance in USD") as caught,
        transaction.atomic(),
    ):
        entry_id = insert_entry(client_id=source.client_id)
        insert_posting(entry_id=entry_id, account_id=destination.pk, amount=500)
        inserted = True
    # … and COMMIT is what fails, naming the entry
    assert inserted
    assert f"journal entry {entry_id} does not balance in USD" in str(caught.value)
    assert ledger_snapshot() == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_entry_balanced_in_total_but_not_per_currency_is_refused_at_commit(committed_accounts):
    source, _, bitcoin = committed_accounts
    before = ledger_snapshot()

    with (
        pytest.raises(IntegrityError, match=r"journal entry \d+ does not balance in (USD|BTC)"),
        transaction.atomic(),
    ):
        entry_id = insert_entry(client_id=source.client_id)
        insert_posting(entry_id=entry_id, account_id=source.pk, amount=-500)
        insert_posting(entry_id=entry_id, account_id=bitcoin.pk, amount=500)

    assert ledger_snapshot() == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_balanced_entry_passes_although_it_is_unbalanced_between_its_inserts(committed_accounts):
    source, destination, _ = committed_accounts
    entries_before = JournalEntry.objects.count()

    with transaction.atomic():
        entry_id = insert_entry(client_id=source.client_id)
        insert_posting(entry_id=entry_id, account_id=destination.pk, amount=500)
        # Between the two inserts the entry does not balance: only a deferred check allows this.
        assert sum(Posting.objects.filter(entry_id=entry_id).values_list("amount", flat=True)) == 500
        insert_posting(entry_id=entry_id, account_id=source.pk, amount=-500)

    assert JournalEntry.objects.count() == entries_before + 1
    assert sorted(Posting.objects.filter(entry_id=entry_id).values_list("amount", flat=True)) == [-500, 500]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_zero_sum_trigger_fires_at_once_when_made_immediate(committed_accounts):
    # The same half-written entry, with the constraint switched to IMMEDIATE: the first INSERT
    # fails. This shows the check above passed because it is deferred, not because it is absent.
    source, destination, _ = committed_accounts

    with pytest.raises(IntegrityError, match=r"journal entry \d+ does not balance in USD"), transaction.atomic():
        execute("SET CONSTRAINTS ledger_posting_entry_balanced IMMEDIATE")
        entry_id = insert_entry(client_id=source.client_id)
        insert_posting(entry_id=entry_id, account_id=destination.pk, amount=500)
        pytest.fail("the INSERT should have been refused before commit")
