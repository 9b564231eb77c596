"""The database refuses what the chain services never write, whoever writes it: each test
bypasses the services and model validation (raw SQL or a queryset `.update()`)."""

from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction

from chain.models import ChainDeposit, CryptoWithdrawal, DepositAddress, Network
from chain.services import WithdrawalRequest, crypto_withdrawal_submit, deposit_addresses_load
from ledger.models import Currency
from tests.factories import EndUserFactory, open_account

pytestmark = pytest.mark.django_db
RECIPIENT = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"


@contextmanager
def refused(constraint: str, *, sqlite: str):
    """IntegrityError naming `constraint` (SQLite names the columns of a unique constraint)."""
    with pytest.raises(IntegrityError, match=f"{constraint}|{sqlite}"), transaction.atomic():
        yield


@pytest.fixture
def bitcoin():
    network = Network.objects.get(code="bitcoin")
    deposit_addresses_load(network=network, addresses=["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                                       "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"])
    return network


@pytest.fixture
def deposit(bitcoin):
    user = EndUserFactory()
    address = DepositAddress.objects.filter(network=bitcoin).first()
    DepositAddress.objects.filter(pk=address.pk).update(user=user, client=user.client)
    return ChainDeposit.objects.create(
        client=user.client, network=bitcoin, currency=Currency.objects.get(code="BTC"), tx_hash="aa" * 32,
        output_index=0, deposit_address=address, user=user, amount=1_000,
    )


def test_one_deposit_per_network_currency_tx_and_output(deposit):
    unique = refused("chain_chaindeposit_once_per_output", sqlite="UNIQUE constraint failed: chain_chaindeposit")
    with unique, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chain_chaindeposit (client_id, network_id, currency_id, tx_hash, output_index,"
            " deposit_address_id, user_id, amount, dust, confirmations, status, detected_at)"
            " SELECT client_id, network_id, currency_id, tx_hash, output_index, deposit_address_id, user_id,"
            " amount, dust, 0, 'pending', detected_at FROM chain_chaindeposit WHERE id = %s", [deposit.pk],
        )


def test_a_deposit_cannot_be_credited_without_an_entry(deposit):
    with refused("chain_chaindeposit_credited_has_entry", sqlite="chain_chaindeposit_credited_has_entry"):
        ChainDeposit.objects.filter(pk=deposit.pk).update(status="credited")


def test_one_active_deposit_address_per_user_and_network(bitcoin, deposit):
    other = DepositAddress.objects.filter(network=bitcoin, user__isnull=True).get()
    with refused("chain_depositaddress_one_active_per_user", sqlite="UNIQUE constraint failed: chain_depositaddress"):
        DepositAddress.objects.filter(pk=other.pk).update(user=deposit.user, client=deposit.client)


def test_an_address_belongs_to_one_row_per_network(bitcoin):
    first, second = DepositAddress.objects.filter(network=bitcoin).order_by("pk")
    with refused("chain_depositaddress_unique_address", sqlite="UNIQUE constraint failed: chain_depositaddress"):
        DepositAddress.objects.filter(pk=second.pk).update(address=first.address)


@pytest.fixture
def withdrawals():
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=100_000_000)
    return [crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=1_000))
            for _ in range(2)]


def test_a_withdrawal_cannot_be_sent_without_its_entry(withdrawals):
    with refused("chain_cryptowithdrawal_sent_has_entry", sqlite="chain_cryptowithdrawal_sent_has_entry"):
        CryptoWithdrawal.objects.filter(pk=withdrawals[0].pk).update(status="broadcast", tx_hash="bb" * 32)


def test_two_withdrawals_cannot_share_a_nonce_from_one_address(withdrawals):
    CryptoWithdrawal.objects.filter(pk=withdrawals[0].pk).update(source_address="0xabc", nonce=7)
    with refused("chain_cryptowithdrawal_one_tx_per_nonce", sqlite="UNIQUE constraint failed: chain_cryptowith"):
        CryptoWithdrawal.objects.filter(pk=withdrawals[1].pk).update(source_address="0xabc", nonce=7)


def test_only_a_failed_withdrawal_has_a_compensating_entry(withdrawals):
    from ledger.models import JournalEntry

    entry = JournalEntry.objects.first()
    with refused("chain_cryptowithdrawal_compensated_only_when_failed",
                 sqlite="chain_cryptowithdrawal_compensated_only_when_failed"):
        CryptoWithdrawal.objects.filter(pk=withdrawals[0].pk).update(compensating_entry=entry)
