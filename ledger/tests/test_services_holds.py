"""Holds: reserve, release, and capture inside entry_post, each exactly once."""

import pytest
from django.utils import timezone

from ledger.models import Account, Hold, JournalEntry
from ledger.money import MAX_MINOR_UNITS
from ledger.services import Leg, entry_post, hold_create, hold_release, system_account_get, withdrawal_create
from ledger.verification import ledger_verify
from tests.factories import open_account
from tests.fixtures import balance, rejected_with

BAD_AMOUNTS = [0, -1, "100", 1.5, True, None, MAX_MINOR_UNITS + 1]


def test_hold_reserves_available_funds_without_moving_the_balance(alice_usd):
    hold = hold_create(account=alice_usd, amount=60_000, reason="open order")

    assert balance(alice_usd) == (100_000, 60_000)
    hold.refresh_from_db()
    assert (hold.amount, hold.status, hold.reason, hold.closed_at) == (60_000, Hold.Status.ACTIVE, "open order", None)
    assert not JournalEntry.objects.filter(postings__account=alice_usd).exclude(kind="deposit").exists()


def test_holds_may_reserve_exactly_the_whole_balance(alice_usd):
    hold_create(account=alice_usd, amount=40_000)
    hold_create(account=alice_usd, amount=60_000)

    assert balance(alice_usd) == (100_000, 100_000)


def test_hold_above_the_available_balance_changes_nothing(alice_usd):
    hold_create(account=alice_usd, amount=60_000)

    with rejected_with("insufficient_funds"):
        hold_create(account=alice_usd, amount=40_001)


def test_hold_on_an_account_allowed_to_go_negative_may_exceed_its_balance(usd_funding):
    assert usd_funding.allows_negative
    before = balance(usd_funding)
    amount = abs(before[0]) + 10_000  # more than it has

    hold_create(account=usd_funding, amount=amount)

    assert balance(usd_funding) == (before[0], before[1] + amount)


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_hold_of_an_invalid_amount_changes_nothing(alice_usd, amount):
    with rejected_with("invalid_amount"):
        hold_create(account=alice_usd, amount=amount)


def test_hold_on_an_inactive_account_changes_nothing(alice_usd):
    Account.objects.filter(pk=alice_usd.pk).update(is_active=False)

    with rejected_with("inactive_account"):
        hold_create(account=alice_usd, amount=100)


def test_release_makes_the_funds_available_again(alice_usd):
    hold = hold_create(account=alice_usd, amount=60_000)

    hold_release(hold=hold)

    assert balance(alice_usd) == (100_000, 0)
    hold.refresh_from_db()
    assert hold.status == Hold.Status.RELEASED
    assert hold.closed_at is not None and hold.closed_at <= timezone.now()
    withdrawal_create(account=alice_usd, amount=100_000)
    assert balance(alice_usd) == (0, 0)


def test_releasing_twice_changes_nothing_the_second_time(alice_usd):
    hold = hold_create(account=alice_usd, amount=60_000)
    hold_release(hold=hold)

    with rejected_with("hold_not_active"):
        hold_release(hold=Hold.objects.get(pk=hold.pk))


def test_releasing_a_captured_hold_changes_nothing(alice_usd, usd_funding):
    hold = hold_create(account=alice_usd, amount=60_000)
    entry_post(
        client_id=alice_usd.client_id, kind="withdrawal", legs=[Leg(alice_usd, -60_000), Leg(usd_funding, 60_000)],
        captured_holds=[hold],
    )

    with rejected_with("hold_not_active"):
        hold_release(hold=hold)


# Capture through entry_post


def test_capture_spends_the_held_funds_and_closes_the_hold(alice_usd, usd_funding):
    # given all 1,000.00 held: nothing is available, yet the order that holds it may spend it
    hold = hold_create(account=alice_usd, amount=100_000)
    funding_before = balance(usd_funding)[0]

    entry = entry_post(
        client_id=alice_usd.client_id,
        kind=JournalEntry.Kind.WITHDRAWAL,
        legs=[Leg(alice_usd, -100_000), Leg(usd_funding, 100_000)],
        captured_holds=[hold],
    )

    assert balance(alice_usd) == (0, 0)
    assert balance(usd_funding)[0] == funding_before + 100_000
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED
    assert entry.postings.count() == 2
    assert ledger_verify(record=False).is_ok


def test_capture_of_a_hold_larger_than_the_debit_frees_the_rest(alice_usd, usd_funding):
    # given 600.00 held for an order that fills for 450.00
    hold = hold_create(account=alice_usd, amount=60_000)

    entry_post(
        client_id=alice_usd.client_id, kind="trade", legs=[Leg(alice_usd, -45_000), Leg(usd_funding, 45_000)],
        captured_holds=[hold],
    )

    assert balance(alice_usd) == (55_000, 0)


def test_capture_does_not_let_a_debit_exceed_held_plus_available(alice_usd, usd_funding):
    # given 600.00 held and 400.00 available: the entry may spend at most 1,000.00
    hold = hold_create(account=alice_usd, amount=60_000)
    hold_create(account=alice_usd, amount=40_000)

    with rejected_with("insufficient_funds"):
        entry_post(
            client_id=alice_usd.client_id, kind="trade", legs=[Leg(alice_usd, -60_001), Leg(usd_funding, 60_001)],
            captured_holds=[hold],
        )


def test_held_funds_cannot_be_spent_without_capturing_the_hold(alice_usd, usd_funding):
    hold_create(account=alice_usd, amount=100_000)

    with rejected_with("insufficient_funds"):
        entry_post(
            client_id=alice_usd.client_id, kind="trade", legs=[Leg(alice_usd, -1), Leg(usd_funding, 1)],
        )


def test_capturing_a_hold_twice_changes_nothing_the_second_time(alice_usd, usd_funding):
    hold = hold_create(account=alice_usd, amount=60_000)
    legs = [Leg(alice_usd, -10_000), Leg(usd_funding, 10_000)]
    entry_post(client_id=alice_usd.client_id, kind="trade", legs=legs, captured_holds=[hold])

    with rejected_with("hold_not_active"):
        entry_post(
            client_id=alice_usd.client_id, kind="trade", legs=legs, captured_holds=[Hold.objects.get(pk=hold.pk)]
        )


def test_capturing_a_released_hold_changes_nothing(alice_usd, usd_funding):
    # given a hold released since it was loaded: the stale instance still says active
    hold = hold_create(account=alice_usd, amount=60_000)
    hold_release(hold=Hold.objects.get(pk=hold.pk))

    # then the refusal is the domain error, not the held >= 0 check constraint
    with rejected_with("hold_not_active"):
        entry_post(
            client_id=alice_usd.client_id, kind="trade", legs=[Leg(alice_usd, -100), Leg(usd_funding, 100)],
            captured_holds=[hold],
        )


def test_capturing_a_released_hold_among_other_holds_changes_nothing(alice_usd, usd_funding):
    # given a second active hold keeps `held` high enough that no constraint would notice
    hold = hold_create(account=alice_usd, amount=30_000)
    hold_create(account=alice_usd, amount=50_000)
    hold_release(hold=Hold.objects.get(pk=hold.pk))

    with rejected_with("hold_not_active"):
        entry_post(
            client_id=alice_usd.client_id, kind="trade", legs=[Leg(alice_usd, -100), Leg(usd_funding, 100)],
            captured_holds=[hold],
        )


def test_capture_with_an_insufficient_debit_leaves_the_hold_active(alice_usd, bob_usd, usd_funding):
    hold = hold_create(account=bob_usd, amount=10_000)

    with rejected_with("insufficient_funds"):
        entry_post(
            client_id=alice_usd.client_id,
            kind="trade",
            legs=[Leg(bob_usd, -25_001), Leg(usd_funding, 25_001)],
            captured_holds=[hold],
        )
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.ACTIVE


def test_capture_of_a_hold_on_an_account_without_a_leg_just_releases_it(alice, alice_usd, usd_funding):
    # given a BTC purchase that held USD but settles only BTC legs in this entry
    alice_btc = open_account(alice, "BTC")
    inventory = system_account_get(client=alice.client, currency="BTC", kind=Account.Kind.INVENTORY)
    hold = hold_create(account=alice_usd, amount=20_000)

    entry_post(
        client_id=alice.client_id, kind="trade", legs=[Leg(inventory, -5_000), Leg(alice_btc, 5_000)],
        captured_holds=[hold],
    )

    assert balance(alice_usd) == (100_000, 0)
    assert balance(alice_btc) == (5_000, 0)
    assert balance(inventory) == (-5_000, 0)
