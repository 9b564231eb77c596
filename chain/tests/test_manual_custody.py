"""Manual custody (Bitcoin): addresses from the custodian's file, deposits and confirmations
imported, withdrawals sent by staff from cold storage and recorded in the admin queue."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.roles import COMPLIANCE, OPERATIONS
from chain.models import ChainDeposit, CryptoWithdrawal, DepositAddress, Network
from chain.services import (
    WithdrawalRequest,
    chain_process,
    crypto_withdrawal_submit,
    deposit_address_assign,
    network_asset_get,
)
from ledger.models import Account, JournalEntry
from ledger.verification import ledger_verify
from tests.factories import EndUserFactory, PlatformStaffFactory, open_account
from tests.fixtures import rejected_with

ADDRESSES = ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"]
RECIPIENT = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(tmp_path):
    file = tmp_path / "custodian.txt"
    file.write_text("# addresses from the custodian\n" + "\n".join(ADDRESSES) + "\n\n")
    call_command("load_deposit_addresses", str(file), stdout=StringIO())
    return Network.objects.get(code="bitcoin")


@pytest.fixture
def operations_staff():
    staff = PlatformStaffFactory()
    staff.groups.add(Group.objects.get(name=OPERATIONS))
    return staff


def test_loading_the_custodian_file_is_all_or_nothing_and_validated(tmp_path, pool):
    assert DepositAddress.objects.filter(network=pool, user__isnull=True).count() == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\n1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("load_deposit_addresses", str(bad), stdout=StringIO())
    assert DepositAddress.objects.filter(network=pool).count() == 2


def test_imported_deposits_are_credited_at_the_threshold_once(tmp_path, pool):
    # given: a user assigned the first pooled address
    user = EndUserFactory()
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=pool.assets.get().currency))
    assert address.address == ADDRESSES[0]
    report = tmp_path / "report.csv"
    line = f"bitcoin,{'ab' * 32},1,{address.address},BTC,150000000"
    report.write_text(f"network,tx_hash,output_index,address,currency,amount,confirmations\n{line},1\n")

    # when: imported below the threshold (3)
    call_command("import_chain_deposits", str(report), stdout=StringIO())
    chain_process(network_code="bitcoin")

    # then: pending
    assert ChainDeposit.objects.get().status == "pending"
    assert not Account.objects.filter(user=user).exists()

    # when: the next report has 3 confirmations, imported twice
    report.write_text(f"network,tx_hash,output_index,address,currency,amount,confirmations\n{line},3\n")
    call_command("import_chain_deposits", str(report), stdout=StringIO())
    call_command("import_chain_deposits", str(report), stdout=StringIO())
    call_command("chain_process", "--network", "bitcoin", stdout=StringIO())
    chain_process(network_code="bitcoin")

    # then
    deposit = ChainDeposit.objects.get()
    assert deposit.status == "credited" and deposit.explorer_url == f"https://mempool.space/tx/{'ab' * 32}"
    assert Account.objects.get(user=user, currency="BTC").balance == 150_000_000
    assert JournalEntry.objects.filter(kind="deposit").count() == 1


def test_manual_withdrawal_waits_for_staff_then_is_recorded_and_confirmed(client, operations_staff):
    # given: a BTC withdrawal (manual custody)
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=100_000_000)
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT,
                                                                    amount=20_000_000))
    chain_process(network_code="bitcoin")
    assert CryptoWithdrawal.objects.get().status == "pending"
    client.force_login(operations_staff)

    # when: staff open the queue and record the hash
    queue = client.get(reverse("admin:chain_cryptowithdrawal_changelist") + "?queue=send")
    assert RECIPIENT in queue.content.decode()
    operate = reverse("admin:chain_cryptowithdrawal_operate", args=[withdrawal.pk])
    assert client.get(operate).status_code == 200
    response = client.post(operate, {"step": "broadcast", "broadcast-tx_hash": "cd" * 32})
    assert response.status_code == 302

    # then: broadcast, the entry captured the hold
    withdrawal.refresh_from_db()
    btc.refresh_from_db()
    assert withdrawal.status == "broadcast" and withdrawal.tx_hash == "cd" * 32
    assert (btc.balance, btc.held) == (100_000_000 - 20_010_000, 0)

    # when: confirmations are recorded
    client.post(operate, {"step": "confirmations", "confirmations-confirmations": "1"})
    assert CryptoWithdrawal.objects.get().status == "broadcast"
    client.post(operate, {"step": "confirmations", "confirmations-confirmations": "3"})

    # then
    withdrawal.refresh_from_db()
    assert withdrawal.status == "confirmed" and withdrawal.confirmations == 3
    assert ledger_verify().is_ok


def test_a_manual_withdrawal_recorded_as_failed_refunds_the_user_visibly(client, operations_staff):
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=100_000_000)
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=1_000))
    client.force_login(operations_staff)
    operate = reverse("admin:chain_cryptowithdrawal_operate", args=[withdrawal.pk])
    client.post(operate, {"step": "broadcast", "broadcast-tx_hash": "ef" * 32})

    client.post(operate, {"step": "failure", "failure-reason": "double-spent by the custodian"})

    withdrawal.refresh_from_db()
    btc.refresh_from_db()
    assert withdrawal.status == "failed"
    assert withdrawal.compensating_entry.reverses == withdrawal.entry
    assert (btc.balance, btc.held) == (100_000_000, 0)


def test_staff_without_the_operations_role_cannot_operate(client):
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=100_000_000)
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=1_000))
    reader = PlatformStaffFactory()
    reader.groups.add(Group.objects.get(name=COMPLIANCE))
    client.force_login(reader)
    operate = reverse("admin:chain_cryptowithdrawal_operate", args=[withdrawal.pk])
    assert client.post(operate, {"step": "broadcast", "broadcast-tx_hash": "ef" * 32}).status_code == 403
    assert CryptoWithdrawal.objects.get().status == "pending"


def test_compliance_decides_a_held_withdrawal_once(settings):
    from broker.services.rates import rate_update
    from chain.services import crypto_withdrawal_approve, crypto_withdrawal_reject

    settings.WITHDRAWAL_REVIEW_THRESHOLD_USD = 100_00
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=100_000_000)
    compliance = PlatformStaffFactory()
    compliance.groups.add(Group.objects.get(name=COMPLIANCE))
    held = crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=1_000_000))
    rejected = crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=1_000_000))
    assert held.status == rejected.status == "pending_review"

    crypto_withdrawal_approve(withdrawal=held, actor=compliance)
    crypto_withdrawal_reject(withdrawal=rejected, actor=compliance, reason="unknown counterparty")

    assert CryptoWithdrawal.objects.get(pk=held.pk).status == "pending"
    assert CryptoWithdrawal.objects.get(pk=rejected.pk).status == "rejected"
    with rejected_with("withdrawal_state"):
        crypto_withdrawal_reject(withdrawal=rejected, actor=compliance, reason="again")
    btc.refresh_from_db()
    assert btc.held == 1_010_000


def test_an_unavailable_manual_address_pool_is_a_clear_conflict():
    user = EndUserFactory()
    with rejected_with("no_deposit_address_available"):
        deposit_address_assign(user=user, asset=network_asset_get(currency=Network.objects.get(
            code="bitcoin").assets.get().currency))


def test_a_deposit_for_a_deactivated_user_without_an_account_stays_pending(tmp_path, pool):
    from accounts.models import User

    user = EndUserFactory()
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=pool.assets.get().currency))
    User.objects.filter(pk=user.pk).update(is_active=False)
    report = tmp_path / "report.csv"
    report.write_text("network,tx_hash,output_index,address,currency,amount,confirmations\n"
                      f"bitcoin,{'cd' * 32},0,{address.address},BTC,5000,6\n")
    call_command("import_chain_deposits", str(report), stdout=StringIO())

    counts = chain_process(network_code="bitcoin")

    assert counts["credited"] == 0
    assert ChainDeposit.objects.get().status == "pending"
    assert not JournalEntry.objects.filter(kind="deposit").exists()
