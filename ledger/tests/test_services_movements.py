"""Deposits, withdrawals, transfers and reversals: every accepted and every refused path."""

from decimal import Decimal

import pytest

from accounts.models import User
from ledger.models import Account, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS
from ledger.services import (
    currency_authorization_revoke,
    deposit_create,
    system_account_get,
    transfer_create,
    transfer_reverse,
    withdrawal_create,
)
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account
from tests.fixtures import balance, rejected_with

BAD_AMOUNTS = [0, -1, -100, "100", 1.5, Decimal("100"), True, False, None, MAX_MINOR_UNITS + 1, 2**64]


def postings_of(entry: JournalEntry) -> list[tuple[int, int]]:
    return sorted(Posting.objects.filter(entry=entry).values_list("account_id", "amount"))


# Deposits


def test_deposit_credits_the_user_and_debits_the_client_funding_account(alice):
    # given an empty USD account
    account = open_account(alice, "USD")

    # when 12.34 arrives
    entry = deposit_create(account=account, amount=1234, reference="wire-1", metadata={"source": "bank"})

    # then the user holds it and funding owes it, in one balanced entry
    funding = system_account_get(client=alice.client, currency="USD", kind=Account.Kind.FUNDING)
    assert balance(account) == (1234, 0)
    assert balance(funding) == (-1234, 0)
    assert entry.kind == JournalEntry.Kind.DEPOSIT
    assert entry.client_id == alice.client_id
    assert (entry.reference, entry.metadata) == ("wire-1", {"source": "bank"})
    assert postings_of(entry) == sorted([(funding.pk, -1234), (account.pk, 1234)])
    assert ledger_verify(record=False).is_ok


def test_deposit_of_the_largest_amount_is_accepted(alice):
    account = open_account(alice, "USD")

    deposit_create(account=account, amount=MAX_MINOR_UNITS)

    assert balance(account) == (MAX_MINOR_UNITS, 0)


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_deposit_of_an_invalid_amount_changes_nothing(alice_usd, amount):
    with rejected_with("invalid_amount"):
        deposit_create(account=alice_usd, amount=amount)


def test_deposit_that_would_overflow_the_balance_changes_nothing(alice):
    # given an account already at the 64-bit ceiling (SQLite would silently turn an overflow into a float)
    account = open_account(alice, "USD", deposit=MAX_MINOR_UNITS)

    with rejected_with("invalid_amount"):
        deposit_create(account=account, amount=1)


def test_deposit_that_would_take_funding_below_the_64_bit_floor_changes_nothing(alice, bob):
    # given funding already owes the largest amount the ledger holds
    open_account(alice, "USD", deposit=MAX_MINOR_UNITS)
    bob_account = open_account(bob, "USD")

    with rejected_with("invalid_amount"):
        deposit_create(account=bob_account, amount=1)


def test_deposit_to_an_inactive_account_changes_nothing(alice_usd):
    Account.objects.filter(pk=alice_usd.pk).update(is_active=False)
    alice_usd.refresh_from_db()

    with rejected_with("inactive_account"):
        deposit_create(account=alice_usd, amount=100)


def test_deposit_to_an_account_deactivated_since_it_was_loaded_changes_nothing(alice_usd):
    # given a stale instance that still says active: the guarded UPDATE reads the row, not the instance
    Account.objects.filter(pk=alice_usd.pk).update(is_active=False)

    with rejected_with("inactive_account"):
        deposit_create(account=alice_usd, amount=100)


def test_deposit_for_an_inactive_user_changes_nothing(alice, alice_usd):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    account = Account.objects.select_related("user").get(pk=alice_usd.pk)

    with rejected_with("inactive_account"):
        deposit_create(account=account, amount=100)


def test_deposit_for_a_frozen_user_changes_nothing(alice, alice_usd):
    User.objects.filter(pk=alice.pk).update(is_frozen=True)
    account = Account.objects.select_related("user").get(pk=alice_usd.pk)

    with rejected_with("user_frozen"):
        deposit_create(account=account, amount=100)


def test_deposit_in_a_revoked_currency_changes_nothing(alice, btc):
    account = open_account(alice, "BTC", deposit=10_000)
    currency_authorization_revoke(user=alice, currency=btc)

    with rejected_with("currency_not_authorized"):
        deposit_create(account=account, amount=100)


def test_settlement_currency_needs_no_authorization(alice):
    # given a USD account opened without any authorization row, and a revocation attempt
    from ledger.models import Currency, CurrencyAuthorization
    from ledger.services import account_create

    usd = Currency.objects.get(code="USD")
    account = account_create(user=alice, currency=usd)
    currency_authorization_revoke(user=alice, currency=usd)
    assert not CurrencyAuthorization.objects.filter(user=alice).exists()

    # when money moves, then it is accepted
    deposit_create(account=account, amount=500)
    withdrawal_create(account=account, amount=200)

    assert balance(account) == (300, 0)


# Withdrawals


def test_withdrawal_debits_the_user_and_credits_funding(alice_usd, usd_funding):
    funding_before = balance(usd_funding)[0]

    entry = withdrawal_create(account=alice_usd, amount=40_000, reference="payout-1")

    assert balance(alice_usd) == (60_000, 0)
    assert balance(usd_funding)[0] == funding_before + 40_000
    assert entry.kind == JournalEntry.Kind.WITHDRAWAL
    assert postings_of(entry) == sorted([(alice_usd.pk, -40_000), (usd_funding.pk, 40_000)])


def test_withdrawal_of_the_whole_balance_leaves_zero(alice_usd):
    withdrawal_create(account=alice_usd, amount=100_000)

    assert balance(alice_usd) == (0, 0)


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_withdrawal_of_an_invalid_amount_changes_nothing(alice_usd, amount):
    with rejected_with("invalid_amount"):
        withdrawal_create(account=alice_usd, amount=amount)


def test_withdrawal_above_the_balance_changes_nothing(alice_usd):
    with rejected_with("insufficient_funds"):
        withdrawal_create(account=alice_usd, amount=100_001)


def test_withdrawal_of_held_funds_changes_nothing(alice_usd):
    # given 1,000.00 of which 600.00 is held: 400.00 available
    from ledger.services import hold_create

    hold_create(account=alice_usd, amount=60_000, reason="open order")

    with rejected_with("insufficient_funds"):
        withdrawal_create(account=alice_usd, amount=40_001)
    withdrawal_create(account=alice_usd, amount=40_000)
    assert balance(alice_usd) == (60_000, 60_000)


def test_withdrawal_for_a_frozen_user_changes_nothing(alice, alice_usd):
    User.objects.filter(pk=alice.pk).update(is_frozen=True)
    account = Account.objects.select_related("user").get(pk=alice_usd.pk)

    with rejected_with("user_frozen"):
        withdrawal_create(account=account, amount=100)


def test_withdrawal_from_an_inactive_account_changes_nothing(alice_usd):
    Account.objects.filter(pk=alice_usd.pk).update(is_active=False)
    alice_usd.refresh_from_db()

    with rejected_with("inactive_account"):
        withdrawal_create(account=alice_usd, amount=100)


def test_withdrawal_in_a_revoked_currency_changes_nothing(alice, btc):
    account = open_account(alice, "BTC", deposit=10_000)
    currency_authorization_revoke(user=alice, currency=btc)

    with rejected_with("currency_not_authorized"):
        withdrawal_create(account=account, amount=100)


# Transfers


def test_transfer_moves_the_amount_between_two_users(alice_usd, bob_usd, usd_funding):
    funding_before = balance(usd_funding)

    entry = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000, reference="rent")

    assert balance(alice_usd) == (70_000, 0)
    assert balance(bob_usd) == (55_000, 0)
    assert balance(usd_funding) == funding_before
    assert entry.kind == JournalEntry.Kind.TRANSFER
    assert entry.reference == "rent"
    assert postings_of(entry) == sorted([(alice_usd.pk, -30_000), (bob_usd.pk, 30_000)])
    assert ledger_verify(record=False).is_ok


def test_transfer_of_the_whole_available_balance_is_accepted(alice_usd, bob_usd):
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100_000)

    assert balance(alice_usd) == (0, 0)
    assert balance(bob_usd) == (125_000, 0)


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_transfer_of_an_invalid_amount_changes_nothing(alice_usd, bob_usd, amount):
    with rejected_with("invalid_amount"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=amount)


def test_transfer_above_the_balance_changes_nothing(alice_usd, bob_usd):
    with rejected_with("insufficient_funds"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100_001)


def test_transfer_from_a_stale_instance_is_guarded_by_the_stored_balance(alice_usd, bob_usd):
    # given an instance loaded when the balance was 1,000.00, then a withdrawal of 900.00
    withdrawal_create(account=alice_usd, amount=90_000)
    assert alice_usd.balance == 100_000

    # when transferring 500.00 from the stale instance, then the SQL guard refuses it
    with rejected_with("insufficient_funds"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=50_000)


def test_transfer_of_held_funds_changes_nothing(alice_usd, bob_usd):
    from ledger.services import hold_create

    hold_create(account=alice_usd, amount=100_000)

    with rejected_with("insufficient_funds"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1)


def test_transfer_to_the_same_account_changes_nothing(alice_usd):
    with rejected_with("same_account"):
        transfer_create(from_account=alice_usd, to_account=alice_usd, amount=100)


def test_transfer_across_currencies_changes_nothing(alice_usd, bob):
    bob_btc = open_account(bob, "BTC")

    with rejected_with("currency_mismatch"):
        transfer_create(from_account=alice_usd, to_account=bob_btc, amount=100)


def test_transfer_to_another_client_changes_nothing(alice_usd):
    stranger = open_account(EndUserFactory(client=ClientFactory()), "USD")

    with rejected_with("account_not_found"):
        transfer_create(from_account=alice_usd, to_account=stranger, amount=100)


@pytest.mark.parametrize("side", ["from", "to"])
def test_transfer_touching_a_system_account_changes_nothing(alice_usd, usd_funding, side):
    from_account, to_account = (usd_funding, alice_usd) if side == "from" else (alice_usd, usd_funding)

    with rejected_with("not_a_user_account"):
        transfer_create(from_account=from_account, to_account=to_account, amount=100)


@pytest.mark.parametrize("service", [deposit_create, withdrawal_create])
def test_deposit_or_withdrawal_on_a_system_account_changes_nothing(usd_funding, service):
    with rejected_with("not_a_user_account"):
        service(account=usd_funding, amount=100)


@pytest.mark.parametrize("side", ["from", "to"])
def test_transfer_touching_an_inactive_account_changes_nothing(alice_usd, bob_usd, side):
    inactive = alice_usd if side == "from" else bob_usd
    Account.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()

    with rejected_with("inactive_account"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)


@pytest.mark.parametrize("side", ["from", "to"])
def test_transfer_touching_an_account_deactivated_since_it_was_loaded_changes_nothing(alice_usd, bob_usd, side):
    inactive = alice_usd if side == "from" else bob_usd
    Account.objects.filter(pk=inactive.pk).update(is_active=False)

    with rejected_with("inactive_account"):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)


@pytest.mark.parametrize("side", ["from", "to"])
def test_transfer_touching_an_inactive_user_changes_nothing(alice_usd, bob_usd, side):
    owner = alice_usd.user if side == "from" else bob_usd.user
    User.objects.filter(pk=owner.pk).update(is_active=False)
    source = Account.objects.select_related("user").get(pk=alice_usd.pk)
    destination = Account.objects.select_related("user").get(pk=bob_usd.pk)

    with rejected_with("inactive_account"):
        transfer_create(from_account=source, to_account=destination, amount=100)


@pytest.mark.parametrize("side", ["from", "to"])
def test_transfer_touching_a_frozen_user_changes_nothing(alice_usd, bob_usd, side):
    owner = alice_usd.user if side == "from" else bob_usd.user
    User.objects.filter(pk=owner.pk).update(is_frozen=True)
    source = Account.objects.select_related("user").get(pk=alice_usd.pk)
    destination = Account.objects.select_related("user").get(pk=bob_usd.pk)

    with rejected_with("user_frozen"):
        transfer_create(from_account=source, to_account=destination, amount=100)


@pytest.mark.parametrize("revoked", ["alice", "bob"])
def test_transfer_in_a_currency_either_side_is_not_authorized_for_changes_nothing(alice, bob, btc, revoked):
    alice_btc = open_account(alice, "BTC", deposit=10_000)
    bob_btc = open_account(bob, "BTC")
    currency_authorization_revoke(user=alice if revoked == "alice" else bob, currency=btc)

    with rejected_with("currency_not_authorized"):
        transfer_create(from_account=alice_btc, to_account=bob_btc, amount=100)


def test_transfer_in_an_authorized_crypto_currency_is_accepted(alice, bob):
    alice_btc = open_account(alice, "BTC", deposit=10_000_000)
    bob_btc = open_account(bob, "BTC")

    transfer_create(from_account=alice_btc, to_account=bob_btc, amount=2_500_000)

    assert balance(alice_btc) == (7_500_000, 0)
    assert balance(bob_btc) == (2_500_000, 0)


# Reversals


def test_reversal_restores_both_balances_with_opposite_postings(alice_usd, bob_usd):
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)

    reversal = transfer_reverse(entry=original, reference="mistake", metadata={"ticket": 7})

    assert balance(alice_usd) == (100_000, 0)
    assert balance(bob_usd) == (25_000, 0)
    assert reversal.kind == JournalEntry.Kind.REVERSAL
    assert reversal.reverses_id == original.pk
    assert (reversal.reference, reversal.metadata) == ("mistake", {"ticket": 7})
    assert postings_of(reversal) == sorted([(alice_usd.pk, 30_000), (bob_usd.pk, -30_000)])
    assert JournalEntry.objects.get(pk=original.pk).reversed_by == reversal
    assert ledger_verify(record=False).is_ok


def test_reversing_twice_changes_nothing_the_second_time(alice_usd, bob_usd):
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)
    transfer_reverse(entry=original)

    with rejected_with("already_reversed"):
        transfer_reverse(entry=original)


@pytest.mark.parametrize("kind", ["deposit", "withdrawal", "reversal"])
def test_reversing_anything_but_a_transfer_changes_nothing(alice_usd, bob_usd, kind):
    if kind == "deposit":
        entry = deposit_create(account=alice_usd, amount=100)
    elif kind == "withdrawal":
        entry = withdrawal_create(account=alice_usd, amount=100)
    else:
        entry = transfer_reverse(entry=transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100))

    with rejected_with("not_reversible"):
        transfer_reverse(entry=entry)


def test_reversal_when_the_recipient_no_longer_holds_the_funds_changes_nothing(alice_usd, bob_usd, client_tenant):
    # given alice paid bob 300.00 and bob passed all 550.00 on to carol
    carol_usd = open_account(EndUserFactory(client=client_tenant), "USD")
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)
    transfer_create(from_account=bob_usd, to_account=carol_usd, amount=55_000)

    # when the first transfer is reversed, then bob's guarded debit refuses it
    with rejected_with("insufficient_funds"):
        transfer_reverse(entry=original)


def test_reversal_when_the_recipient_has_the_funds_on_hold_changes_nothing(alice_usd, bob_usd):
    from ledger.services import hold_create

    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)
    hold_create(account=bob_usd, amount=50_000)

    with rejected_with("insufficient_funds"):
        transfer_reverse(entry=original)


def test_reversal_when_a_user_is_frozen_changes_nothing(alice_usd, bob_usd):
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)
    User.objects.filter(pk=bob_usd.user_id).update(is_frozen=True)

    with rejected_with("user_frozen"):
        transfer_reverse(entry=original)


def test_reversal_when_an_account_is_inactive_changes_nothing(alice_usd, bob_usd):
    original = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=30_000)
    Account.objects.filter(pk=alice_usd.pk).update(is_active=False)

    with rejected_with("inactive_account"):
        transfer_reverse(entry=original)


def test_reversal_is_allowed_after_the_currency_authorization_is_revoked(alice, bob, btc):
    # Undoing a mistaken transfer must stay possible after compliance revokes a currency.
    alice_btc = open_account(alice, "BTC", deposit=10_000)
    bob_btc = open_account(bob, "BTC")
    original = transfer_create(from_account=alice_btc, to_account=bob_btc, amount=4_000)
    currency_authorization_revoke(user=bob, currency=btc)

    transfer_reverse(entry=original)

    assert balance(alice_btc) == (10_000, 0)
    assert balance(bob_btc) == (0, 0)
