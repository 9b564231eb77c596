"""entry_post on its own: balanced legs, rejected legs, observers inside the transaction."""

import pytest

from ledger.models import Account, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS
from ledger.services import Leg, entry_post, system_account_get
from ledger.verification import ledger_verify
from tests.factories import open_account
from tests.fixtures import balance, ledger_snapshot, rejected_with

observed: list[int] = []


def record_entry(*, entry, legs):
    observed.append(entry.pk)


def refuse_entry(*, entry, legs):
    raise RuntimeError("observer refused the entry")


def test_a_multi_currency_entry_balances_per_currency(alice, alice_usd):
    # given a conversion: alice pays 100.00 USD into inventory and receives 0.001 BTC from it
    alice_btc = open_account(alice, "BTC")
    usd_inventory = system_account_get(client=alice.client, currency="USD", kind=Account.Kind.INVENTORY)
    btc_inventory = system_account_get(client=alice.client, currency="BTC", kind=Account.Kind.INVENTORY)

    entry = entry_post(
        client_id=alice.client_id,
        kind=JournalEntry.Kind.CONVERSION,
        legs=[
            Leg(alice_usd, -10_000),
            Leg(usd_inventory, 10_000),
            Leg(btc_inventory, -100_000),
            Leg(alice_btc, 100_000),
        ],
    )

    assert balance(alice_usd) == (90_000, 0)
    assert balance(alice_btc) == (100_000, 0)
    assert balance(usd_inventory) == (10_000, 0)
    assert balance(btc_inventory) == (-100_000, 0)
    assert Posting.objects.filter(entry=entry).count() == 4
    assert ledger_verify(record=False).is_ok


def test_several_legs_on_one_account_are_applied_as_their_sum(alice_usd, bob_usd):
    # given 1,000.00: two debits of 600.00 would each pass alone, but not together
    with rejected_with("insufficient_funds"):
        entry_post(
            client_id=alice_usd.client_id,
            kind="adjustment",
            legs=[Leg(alice_usd, -60_000), Leg(alice_usd, -60_000), Leg(bob_usd, 120_000)],
        )

    entry_post(
        client_id=alice_usd.client_id,
        kind="adjustment",
        legs=[Leg(alice_usd, -60_000), Leg(alice_usd, -40_000), Leg(bob_usd, 100_000)],
    )
    assert balance(alice_usd) == (0, 0)
    assert Posting.objects.filter(account=alice_usd, amount__lt=0).count() == 2


def test_an_unbalanced_entry_changes_nothing(alice_usd, bob_usd):
    with rejected_with("unbalanced_entry"):
        entry_post(client_id=alice_usd.client_id, kind="adjustment", legs=[Leg(alice_usd, -100), Leg(bob_usd, 99)])


def test_an_entry_balanced_in_total_but_not_per_currency_changes_nothing(alice, alice_usd):
    alice_btc = open_account(alice, "BTC")
    btc_inventory = system_account_get(client=alice.client, currency="BTC", kind=Account.Kind.INVENTORY)

    with rejected_with("unbalanced_entry"):
        entry_post(
            client_id=alice.client_id,
            kind="conversion",
            legs=[Leg(alice_usd, -100), Leg(alice_btc, 100), Leg(btc_inventory, -50), Leg(alice_btc, 50)],
        )


def test_an_entry_without_legs_changes_nothing(alice_usd):
    with rejected_with("unbalanced_entry"):
        entry_post(client_id=alice_usd.client_id, kind="adjustment", legs=[])


def test_an_entry_with_a_zero_leg_changes_nothing(alice_usd, bob_usd):
    with rejected_with("unbalanced_entry"):
        entry_post(
            client_id=alice_usd.client_id,
            kind="adjustment",
            legs=[Leg(alice_usd, -100), Leg(bob_usd, 100), Leg(bob_usd, 0)],
        )


@pytest.mark.parametrize("amount", [1.5, "100", True, MAX_MINOR_UNITS + 1])
def test_an_entry_with_a_non_integer_or_out_of_range_leg_changes_nothing(alice_usd, bob_usd, amount):
    with rejected_with("invalid_amount"):
        entry_post(
            client_id=alice_usd.client_id, kind="adjustment", legs=[Leg(alice_usd, amount), Leg(bob_usd, amount)]
        )


def test_legs_on_one_account_summing_beyond_64_bits_change_nothing(alice_usd, usd_funding):
    with rejected_with("invalid_amount"):
        entry_post(
            client_id=alice_usd.client_id,
            kind="adjustment",
            legs=[Leg(usd_funding, -MAX_MINOR_UNITS), Leg(usd_funding, -MAX_MINOR_UNITS),
                  Leg(alice_usd, MAX_MINOR_UNITS), Leg(alice_usd, MAX_MINOR_UNITS)],
        )


def test_a_failing_debit_late_in_the_entry_rolls_back_the_earlier_credits(alice_usd, bob_usd):
    # given bob (the higher primary key) is debited after alice is credited
    assert alice_usd.pk < bob_usd.pk

    with rejected_with("insufficient_funds"):
        entry_post(
            client_id=alice_usd.client_id, kind="adjustment", legs=[Leg(bob_usd, -25_001), Leg(alice_usd, 25_001)]
        )


def test_observers_run_inside_the_posting_transaction(alice_usd, bob_usd, settings):
    settings.LEDGER_ENTRY_OBSERVERS = ["ledger.tests.test_services_posting.record_entry"]
    observed.clear()

    entry = entry_post(client_id=alice_usd.client_id, kind="adjustment", legs=[Leg(alice_usd, -1), Leg(bob_usd, 1)])

    assert observed == [entry.pk]


def test_a_failing_observer_rolls_the_entry_back(alice_usd, bob_usd, settings):
    settings.LEDGER_ENTRY_OBSERVERS = ["ledger.tests.test_services_posting.refuse_entry"]
    before = ledger_snapshot()

    with pytest.raises(RuntimeError, match="observer refused"):
        entry_post(client_id=alice_usd.client_id, kind="adjustment", legs=[Leg(alice_usd, -1), Leg(bob_usd, 1)])

    assert ledger_snapshot() == before


def test_postings_carry_the_running_balance_returned_by_their_update(alice, alice_usd, usd_funding):
    # given alice (1,000.00, sequence 1) with 50.00 held, 20.00 of which this entry captures
    from ledger.services import hold_create

    hold_create(account=alice_usd, amount=3_000)
    captured = hold_create(account=alice_usd, amount=2_000)
    funding_before = Account.objects.get(pk=usd_funding.pk)
    # when: one entry with two legs on alice (a payment and a fee)
    entry = entry_post(
        client_id=alice.client_id,
        kind=JournalEntry.Kind.WITHDRAWAL,
        legs=[Leg(alice_usd, -2_000), Leg(usd_funding, 2_100), Leg(alice_usd, -100)],
        captured_holds=[captured],
    )
    # then: consecutive sequences in leg order, each balance the previous plus its amount, held
    # after the capture, posted_at the entry's instant
    rows = list(entry.postings.order_by("id").values_list(
        "account_id", "sequence", "amount", "balance_after", "held_after", "posted_at"
    ))
    assert rows == [
        (alice_usd.pk, 2, -2_000, 98_000, 3_000, entry.created_at),
        (usd_funding.pk, funding_before.sequence + 1, 2_100, funding_before.balance + 2_100, 0, entry.created_at),
        (alice_usd.pk, 3, -100, 97_900, 3_000, entry.created_at),
    ]
    assert Account.objects.values_list("balance", "held", "sequence").get(pk=alice_usd.pk) == (97_900, 3_000, 3)
    assert ledger_verify(record=False).is_ok


def test_a_running_balance_that_would_pass_64_bits_midway_changes_nothing(alice, alice_usd):
    # the legs on alice net to zero, but 1,000.00 + MAX would not fit in a posting's balance_after
    with rejected_with("invalid_amount"):
        entry_post(
            client_id=alice.client_id,
            kind=JournalEntry.Kind.ADJUSTMENT,
            legs=[Leg(alice_usd, MAX_MINOR_UNITS), Leg(alice_usd, -MAX_MINOR_UNITS)],
        )
