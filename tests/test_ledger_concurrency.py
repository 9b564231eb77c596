"""The ledger under real concurrency (PostgreSQL): threads with their own connections race.

A Jepsen-style bank: many threads move money at random between a handful of accounts, reverse
each other's transfers and hold funds, all at once. Afterwards money is exactly conserved, no
user balance is negative, the ledger verifies clean, and the only errors anyone saw are the
domain errors a client is meant to see. A deadlock, an IntegrityError or any other database
error fails the test: the services must decide every race themselves, in SQL.
"""

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.db.models import Sum

from events.models import Event
from ledger.errors import AlreadyReversedError, BatchItemRefusedError, HoldNotActiveError, InsufficientFundsError
from ledger.models import Account, Hold, JournalEntry, Posting
from ledger.services import (
    Leg,
    TransferRequest,
    entry_post,
    hold_create,
    hold_release,
    system_account_get,
    transfer_batch_create,
    transfer_create,
    transfer_reverse,
)
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 16
ACCOUNTS = 10
OPENING_BALANCE = 10_000
OPERATIONS_PER_THREAD = 160


@pytest.fixture(autouse=True)
def ledger_without_observers(settings):
    # The ledger core on its own; observers (compliance review) are exercised by their own tests.
    settings.LEDGER_ENTRY_OBSERVERS = []


def run_concurrently(workers: list[Callable[[], object]]) -> list[object]:
    """Run each worker in its own thread (and its own connection), released together.

    Returns each worker's result, or the exception it raised.
    """
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = workers[index]()
        except BaseException as error:  # noqa: BLE001 - reported to the test thread, not swallowed
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker is stuck (a lock wait that never ends?)"
    return results


def user_accounts(client_id: int) -> list[Account]:
    return list(Account.objects.select_related("user").filter(client_id=client_id, kind="user").order_by("pk"))


def test_random_transfers_reversals_and_holds_conserve_money(requires_postgres):
    # given 10 accounts of 100.00 each, funded by real deposits
    client = ClientFactory()
    for _ in range(ACCOUNTS):
        open_account(EndUserFactory(client=client), "USD", deposit=OPENING_BALANCE)
    funding = system_account_get(client=client, currency="USD", kind=Account.Kind.FUNDING)
    recent_transfers: list[int] = []
    recent_lock = threading.Lock()

    def bank_worker(seed: int) -> Callable[[], Counter]:
        def work() -> Counter:
            chooser = random.Random(seed)  # noqa: S311 - reproducible choices, not secrets
            accounts = user_accounts(client.pk)
            seen: Counter = Counter()
            for _ in range(OPERATIONS_PER_THREAD):
                roll = chooser.random()
                try:
                    if roll < 0.80:
                        source, destination = chooser.sample(accounts, 2)
                        # Up to 40% of an opening balance: many transfers outrun their source.
                        entry = transfer_create(
                            from_account=source, to_account=destination, amount=chooser.randint(1, 4_000)
                        )
                        with recent_lock:
                            recent_transfers.append(entry.pk)
                        seen["transfer"] += 1
                    elif roll < 0.92:
                        with recent_lock:
                            if not recent_transfers:
                                seen["nothing_to_reverse"] += 1
                                continue
                            # Among the last few, so threads often race to reverse the same one.
                            entry_id = chooser.choice(recent_transfers[-5:])
                        transfer_reverse(entry=JournalEntry.objects.get(pk=entry_id))
                        seen["reversal"] += 1
                    else:
                        hold = hold_create(account=chooser.choice(accounts), amount=chooser.randint(1, 3_000))
                        hold_release(hold=hold)
                        seen["hold"] += 1
                except (InsufficientFundsError, AlreadyReversedError) as expected:
                    seen[expected.code] += 1
            return seen

        return work

    # when 16 threads run 160 operations each
    results = run_concurrently([bank_worker(seed) for seed in range(THREADS)])

    # then no thread saw anything but the expected domain errors
    unexpected = [result for result in results if isinstance(result, BaseException)]
    assert not unexpected, f"unexpected errors: {unexpected!r}"
    seen = sum(results, Counter())
    assert seen["transfer"] >= 1_000 and seen["insufficient_funds"] >= 50, seen
    assert seen["reversal"] > 0, seen
    assert sum(seen.values()) == THREADS * OPERATIONS_PER_THREAD

    # and money is exactly conserved, nobody is negative, every hold was released
    balances = Account.objects.filter(client=client, kind="user")
    assert balances.aggregate(total=Sum("balance"))["total"] == ACCOUNTS * OPENING_BALANCE
    assert not balances.filter(balance__lt=0).exists()
    assert not balances.exclude(held=0).exists()
    assert Account.objects.get(pk=funding.pk).balance == -ACCOUNTS * OPENING_BALANCE
    assert JournalEntry.objects.filter(kind="transfer").count() == seen["transfer"]
    assert JournalEntry.objects.filter(kind="reversal").count() == seen["reversal"]
    assert not Hold.objects.filter(status=Hold.Status.ACTIVE).exists()
    report = ledger_verify(record=False)
    assert report.is_ok, report.violations
    assert report.totals == {"USD": 0}
    # and every account's running balances, replayed here from the amounts alone: sequences
    # 1..n without a gap, each balance_after the previous plus the amount, the last the balance
    for account in Account.objects.filter(client=client):
        history = list(Posting.objects.filter(account=account).order_by("sequence").values_list(
            "sequence", "amount", "balance_after"
        ))
        assert [sequence for sequence, _, _ in history] == list(range(1, len(history) + 1))
        running = 0
        for _, amount, balance_after in history:
            running += amount
            assert balance_after == running
        assert (running, len(history)) == (account.balance, account.sequence)


def test_opposite_transfers_between_two_accounts_never_deadlock(requires_postgres):
    # given two accounts sending to each other as fast as they can
    client = ClientFactory()
    first = open_account(EndUserFactory(client=client), "USD", deposit=5_000)
    second = open_account(EndUserFactory(client=client), "USD", deposit=5_000)

    def sender(source: Account, destination: Account) -> Callable[[], int]:
        def work() -> int:
            moved = 0
            for amount in range(1, 401):
                try:
                    transfer_create(from_account=source, to_account=destination, amount=amount % 50 + 1)
                    moved += 1
                except InsufficientFundsError:
                    pass
            return moved

        return work

    # when A→B and B→A run at once
    results = run_concurrently([sender(first, second), sender(second, first)])

    # then every transfer either applied or was refused for funds; no deadlock was ever detected
    assert not [result for result in results if isinstance(result, BaseException)], results
    assert sum(results) > 0
    assert Account.objects.filter(pk__in=[first.pk, second.pk]).aggregate(total=Sum("balance"))["total"] == 10_000
    assert ledger_verify(record=False).is_ok


def test_concurrent_holds_on_one_account_never_over_reserve(requires_postgres):
    # given 1,000 minor units and 16 threads each trying to hold 100 three times
    account = open_account(EndUserFactory(), "USD", deposit=1_000)

    def holder() -> int:
        placed = 0
        for _ in range(3):
            try:
                hold_create(account=account, amount=100)
                placed += 1
            except InsufficientFundsError:
                pass
        return placed

    results = run_concurrently([holder] * THREADS)

    # then exactly ten holds fit, and held equals what they reserve
    assert not [result for result in results if isinstance(result, BaseException)], results
    assert sum(results) == 10
    assert Account.objects.values_list("balance", "held").get(pk=account.pk) == (1_000, 1_000)
    assert Hold.objects.filter(account=account, status=Hold.Status.ACTIVE).count() == 10


def test_concurrent_reversals_of_one_transfer_apply_once(requires_postgres):
    client = ClientFactory()
    source = open_account(EndUserFactory(client=client), "USD", deposit=5_000)
    destination = open_account(EndUserFactory(client=client), "USD")
    transfer = transfer_create(from_account=source, to_account=destination, amount=2_000)

    def reverser() -> str:
        try:
            transfer_reverse(entry=transfer)
        except AlreadyReversedError as refused:
            return refused.code
        return "reversed"

    results = run_concurrently([reverser] * 8)

    assert sorted(results) == ["already_reversed"] * 7 + ["reversed"]
    assert Account.objects.values_list("balance", flat=True).get(pk=source.pk) == 5_000
    assert JournalEntry.objects.filter(reverses=transfer).count() == 1


def test_a_hold_raced_by_release_and_capture_closes_exactly_once(requires_postgres):
    # given holds that an order fill (capture) and a cancellation (release) reach at the same moment
    client = ClientFactory()
    account = open_account(EndUserFactory(client=client), "USD", deposit=100_000)
    funding = system_account_get(client=client, currency="USD", kind=Account.Kind.FUNDING)
    outcomes: Counter = Counter()

    for _ in range(20):
        hold = hold_create(account=account, amount=1_000)

        def capture(hold: Hold = hold) -> str:
            try:
                entry_post(
                    client_id=client.pk, kind="trade", legs=[Leg(account, -600), Leg(funding, 600)],
                    captured_holds=[hold],
                )
            except HoldNotActiveError as refused:
                return refused.code
            return "captured"

        def release(hold: Hold = hold) -> str:
            try:
                hold_release(hold=hold)
            except HoldNotActiveError as refused:
                return refused.code
            return "released"

        results = run_concurrently([capture, release])
        # then one wins and the other is told the hold is closed; never a constraint error
        assert not [result for result in results if isinstance(result, BaseException)], results
        assert results.count("hold_not_active") == 1, results
        outcomes.update(results)

    captured = outcomes["captured"]
    assert captured + outcomes["released"] == 20
    assert Account.objects.values_list("balance", "held").get(pk=account.pk) == (100_000 - 600 * captured, 0)
    assert ledger_verify(record=False).is_ok


def test_batches_in_opposite_orders_never_deadlock_and_conserve_money(requires_postgres):
    # given: batches that each walk the same accounts, half of them in reverse order, with
    # single transfers racing them
    client = ClientFactory()
    accounts = [open_account(EndUserFactory(client=client), "USD", deposit=OPENING_BALANCE) for _ in range(6)]
    pairs = [(accounts[n], accounts[(n + 1) % len(accounts)]) for n in range(len(accounts))]

    def batch(reverse: bool, atomic: bool):
        ordered = list(reversed(pairs)) if reverse else pairs
        return transfer_batch_create(
            transfers=[TransferRequest(from_account=a, to_account=b, amount=7) for a, b in ordered], atomic=atomic
        )

    workers = [lambda n=n: batch(reverse=n % 2 == 1, atomic=n % 3 != 0) for n in range(THREADS - 4)]
    workers += [lambda: transfer_create(from_account=accounts[5], to_account=accounts[0], amount=3)] * 4
    # when
    results = run_concurrently(workers)
    # then: every batch and transfer went through (funds suffice), money is conserved
    assert not [result for result in results if isinstance(result, BaseException)], results
    total = Account.objects.filter(pk__in=[account.pk for account in accounts]).aggregate(total=Sum("balance"))
    assert total["total"] == OPENING_BALANCE * len(accounts)
    assert ledger_verify().is_ok


def test_set_based_batches_and_single_transfers_with_compliance_on_overlapping_accounts(requires_postgres, settings):
    # given: compliance on (its counter rows are locked too), accounts that every batch and
    # transfer share in part, some of them short of funds so that refusals race as well
    settings.LEDGER_ENTRY_OBSERVERS = ["operations.compliance.compliance_observe_entry"]
    client = ClientFactory()
    accounts = [open_account(EndUserFactory(client=client), "USD", deposit=OPENING_BALANCE) for _ in range(8)]
    entries_before = JournalEntry.objects.count()
    randomness = random.Random(7)

    def batch(atomic: bool, seed: int):
        chooser = random.Random(seed)
        transfers = []
        for _ in range(40):
            source, target = chooser.sample(accounts, 2)
            transfers.append(TransferRequest(from_account=source, to_account=target, amount=chooser.randint(1, 900)))
        try:
            outcomes = transfer_batch_create(transfers=transfers, atomic=atomic)
        except BatchItemRefusedError as refused:
            return refused.error.code
        return [outcome.error.code if outcome.error else "applied" for outcome in outcomes]

    def single(seed: int):
        chooser = random.Random(seed)
        source, target = chooser.sample(accounts, 2)
        try:
            transfer_create(from_account=source, to_account=target, amount=chooser.randint(1, 900))
        except InsufficientFundsError as refused:
            return refused.code
        return "applied"

    workers = [lambda n=n: batch(atomic=n % 2 == 0, seed=n) for n in range(4)]
    workers += [lambda n=n: single(seed=randomness.randint(0, 10**6) + n) for n in range(THREADS - 4)]
    # when
    results = run_concurrently(workers)
    # then: no deadlock or database error, money conserved, one event per entry, ledger sound
    assert not [result for result in results if isinstance(result, BaseException)], results
    total = Account.objects.filter(pk__in=[account.pk for account in accounts]).aggregate(total=Sum("balance"))
    assert total["total"] == OPENING_BALANCE * len(accounts)
    assert not Account.objects.filter(pk__in=[account.pk for account in accounts], balance__lt=0).exists()
    new_entries = JournalEntry.objects.count() - entries_before
    assert new_entries > 0
    assert Event.objects.filter(type="transaction.created", client_id=client.pk).count() == (
        JournalEntry.objects.filter(client_id=client.pk).count()
    )
    assert ledger_verify().is_ok
