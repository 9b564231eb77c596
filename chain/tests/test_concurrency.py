"""Concurrent workers and requests on PostgreSQL: row locks make each effect happen once."""

import threading

import pytest
from django.db import close_old_connections, connection

from chain.models import ChainDeposit, DepositAddress, Network
from chain.services import chain_deposit_credit, deposit_address_assign, deposit_addresses_load, network_asset_get
from ledger.models import Currency, JournalEntry
from tests.factories import EndUserFactory

# serialized_rollback: the flush between tests would otherwise drop the seeded networks.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_together(target, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def worker():
        try:
            barrier.wait()
            results.append(target())
        except Exception as error:  # collected: the test asserts on outcomes
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    close_old_connections()
    return results


@pytest.fixture
def bitcoin():
    network = Network.objects.get(code="bitcoin")
    deposit_addresses_load(network=network, addresses=["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                                       "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                                                       "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"])
    return network


def test_two_workers_credit_a_deposit_once(requires_postgres, bitcoin):
    # given
    user = EndUserFactory()
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=Currency.objects.get(code="BTC")))
    deposit = ChainDeposit.objects.create(
        client=user.client, network=bitcoin, currency_id="BTC", tx_hash="aa" * 32, output_index=0,
        deposit_address=address, user=user, amount=5_000, confirmations=3,
    )

    # when
    results = run_together(lambda: chain_deposit_credit(deposit=deposit))

    # then
    assert sorted(result is None for result in results) == [False, True], results
    assert JournalEntry.objects.filter(kind="deposit").count() == 1
    assert ChainDeposit.objects.get().status == "credited"


def test_two_requests_assign_one_address_to_a_user(requires_postgres, bitcoin):
    user = EndUserFactory()
    asset = network_asset_get(currency=Currency.objects.get(code="BTC"))

    results = run_together(lambda: deposit_address_assign(user=user, asset=asset)[0].pk)

    assert len(set(results)) == 1, results
    assert DepositAddress.objects.filter(user=user).count() == 1
    assert DepositAddress.objects.filter(user__isnull=True).count() == 2
