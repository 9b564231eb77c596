"""verify_ledger: clean after real movements, exit code 1 with the list when the ledger is corrupted."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F

from ledger.models import Account, Hold, JournalEntry, LedgerVerification
from ledger.services import hold_create, hold_release, transfer_create, transfer_reverse, withdrawal_create
from ledger.verification import ledger_verify


def run_verify(*args) -> tuple[int, str, str]:
    stdout, stderr = StringIO(), StringIO()
    try:
        call_command("verify_ledger", *args, stdout=stdout, stderr=stderr)
    except SystemExit as exit_:
        return exit_.code, stdout.getvalue(), stderr.getvalue()
    return 0, stdout.getvalue(), stderr.getvalue()


def insert_entry(client_id: int) -> int:
    """A journal entry written straight to the table, as a buggy or malicious writer could."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, created_at)"
            " VALUES (%s, 'adjustment', '', '{}', CURRENT_TIMESTAMP)",
            [client_id],
        )
    return JournalEntry.objects.order_by("-pk").values_list("pk", flat=True)[0]


def insert_posting(entry_id: int, account_id: int, amount: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after,"
            " posted_at) VALUES (%s, %s, %s, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM ledger_posting"
            " WHERE account_id = %s), %s, 0, CURRENT_TIMESTAMP)",
            [entry_id, account_id, amount, account_id, amount],
        )


@pytest.fixture
def movements(alice_usd, bob_usd):
    """A ledger with every kind of movement in it."""
    transfer = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=10_000)
    transfer_reverse(entry=transfer)
    transfer_create(from_account=bob_usd, to_account=alice_usd, amount=5_000)
    withdrawal_create(account=alice_usd, amount=1_000)
    hold_release(hold=hold_create(account=bob_usd, amount=2_000))
    hold_create(account=bob_usd, amount=3_000)


def test_a_ledger_built_by_the_services_verifies_clean(movements):
    code, out, err = run_verify()

    assert code == 0, err
    # alice, bob and the USD funding account; 2 deposits, 2 transfers, 1 reversal, 1 withdrawal
    assert "Checked 3 accounts and 6 journal entries." in out
    assert "USD: balances sum to 0" in out
    assert "Ledger OK" in out
    assert err == ""
    assert LedgerVerification.objects.get().is_ok


def test_no_record_leaves_no_verification_row(movements):
    code, _, _ = run_verify("--no-record")

    assert code == 0
    assert not LedgerVerification.objects.exists()


def test_a_balance_changed_without_a_posting_fails_verification(movements, alice_usd):
    # given a balance edited in place, bypassing the journal
    Account.objects.filter(pk=alice_usd.pk).update(balance=F("balance") + 1)

    code, out, err = run_verify()

    assert code == 1
    assert "3 violation(s):" in err
    assert f"account {alice_usd.pk} (USD): balance 104001 != sum of postings 104000" in err
    assert f"account {alice_usd.pk} (USD): balance 104001 != last running balance 104000" in err
    assert "currency USD: balances sum to 1, not 0 (money not conserved)" in err
    assert "Ledger OK" not in out
    recorded = LedgerVerification.objects.get()
    assert not recorded.is_ok
    assert len(recorded.violations) == 3


def test_an_unbalanced_entry_fails_verification(movements, alice_usd, client_tenant):
    # given a posting inserted by raw SQL with no matching leg. On PostgreSQL the deferred trigger
    # would refuse it at commit, so it lives in a savepoint that is rolled back after the check.
    with transaction.atomic():
        entry_id = insert_entry(client_tenant.pk)
        insert_posting(entry_id, alice_usd.pk, 700)

        code, _, err = run_verify("--no-record")

        assert code == 1
        assert f"entry {entry_id} (USD): postings sum to 700" in err
        assert f"account {alice_usd.pk} (USD): balance 104000 != sum of postings 104700" in err
        transaction.set_rollback(True)


def test_an_entry_without_postings_fails_verification(movements, client_tenant):
    entry_id = insert_entry(client_tenant.pk)

    code, _, err = run_verify()

    assert code == 1
    assert f"entry {entry_id}: has no postings" in err


def test_held_funds_without_an_active_hold_fail_verification(movements, bob_usd):
    # given `held` raised without a hold row: money reserved that no order or review can release
    Account.objects.filter(pk=bob_usd.pk).update(held=F("held") + 500)

    code, _, err = run_verify()

    assert code == 1
    assert f"account {bob_usd.pk} (USD): held 3500 != sum of active holds 3000" in err


def test_a_hold_closed_without_releasing_its_funds_fails_verification(movements, bob_usd):
    Hold.objects.filter(account=bob_usd, status=Hold.Status.ACTIVE).update(status=Hold.Status.RELEASED)

    code, _, err = run_verify()

    assert code == 1
    assert f"account {bob_usd.pk} (USD): held 3000 != sum of active holds 0" in err


def test_a_negative_user_balance_fails_verification_where_constraints_can_be_bypassed(movements, alice_usd):
    # SQLite lets a connection switch off CHECK constraints, so a corrupted file is possible there.
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite can switch off CHECK constraints for a connection")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            Account.objects.filter(pk=alice_usd.pk).update(balance=-5)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")

    report = ledger_verify(record=False)

    assert not report.is_ok
    assert f"account {alice_usd.pk} (USD): available -5 is negative" in report.violations


def insert_running_posting(entry_id: int, account_id: int, amount: int, *, sequence: int, balance_after: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after,"
            " posted_at) VALUES (%s, %s, %s, %s, %s, 0, CURRENT_TIMESTAMP)",
            [entry_id, account_id, amount, sequence, balance_after],
        )


def test_a_running_balance_that_does_not_follow_fails_verification(movements, alice_usd, usd_funding, client_tenant):
    # given a balanced entry whose posting on alice claims a balance that is not previous + amount
    alice_usd.refresh_from_db()
    usd_funding.refresh_from_db()
    with transaction.atomic():
        entry_id = insert_entry(client_tenant.pk)
        insert_running_posting(entry_id, alice_usd.pk, 700, sequence=alice_usd.sequence + 1, balance_after=999)
        insert_running_posting(
            entry_id, usd_funding.pk, -700, sequence=usd_funding.sequence + 1, balance_after=usd_funding.balance - 700
        )

        code, _, err = run_verify("--no-record")

        assert code == 1
        assert (
            f"account {alice_usd.pk} posting {alice_usd.sequence + 1}: balance_after 999 != previous "
            f"{alice_usd.balance} + amount 700" in err
        )
        assert f"account {usd_funding.pk} posting" not in err
        transaction.set_rollback(True)


def test_a_gap_in_an_accounts_sequence_fails_verification(movements, alice_usd, client_tenant):
    alice_usd.refresh_from_db()
    with transaction.atomic():
        entry_id = insert_entry(client_tenant.pk)
        skipped = alice_usd.sequence + 2
        insert_running_posting(entry_id, alice_usd.pk, 700, sequence=skipped, balance_after=alice_usd.balance + 700)

        code, _, err = run_verify("--no-record")

        assert code == 1
        assert f"account {alice_usd.pk} posting {skipped}:" in err
        assert f"sequence does not follow {alice_usd.sequence}" in err
        transaction.set_rollback(True)


def test_an_account_sequence_behind_its_postings_fails_verification(movements, alice_usd):
    alice_usd.refresh_from_db()
    Account.objects.filter(pk=alice_usd.pk).update(sequence=F("sequence") - 1)

    code, _, err = run_verify("--no-record")

    assert code == 1
    assert (
        f"account {alice_usd.pk} (USD): sequence {alice_usd.sequence - 1} != last posting's {alice_usd.sequence}"
        in err
    )


def test_a_snapshot_that_disagrees_with_the_running_balances_fails_verification(movements, alice_usd):
    from datetime import timedelta

    from django.utils import timezone

    from ledger.models import BalanceSnapshot

    alice_usd.refresh_from_db()
    BalanceSnapshot.objects.create(
        account=alice_usd, date=timezone.now().date(), as_of=timezone.now() + timedelta(days=1),
        balance=alice_usd.balance + 1, sequence=alice_usd.sequence,
    )

    code, _, err = run_verify("--no-record")

    assert code == 1
    assert (
        f"account {alice_usd.pk} snapshot {timezone.now().date()}: balance {alice_usd.balance + 1} != running "
        f"balance then {alice_usd.balance}" in err
    )


def test_a_last_held_after_that_disagrees_with_the_holds_fails_verification(movements, alice_usd):
    # given a hold whose recorded creation is moved before alice's last posting: held then was 0
    hold = hold_create(account=alice_usd, amount=500)
    Hold.objects.filter(pk=hold.pk).update(created_at=hold.created_at.replace(year=2000))
    alice_usd.refresh_from_db()

    code, _, err = run_verify("--no-record")

    assert code == 1
    assert f"account {alice_usd.pk} posting {alice_usd.sequence}: held_after 0 != holds active then 500" in err
