"""End to end on the in-process Ethereum chain (eth-tester, py-evm): deposit addresses, deposits
of ether and an ERC-20 credited at the threshold, withdrawals sent once, custody reconciled."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from eth_account import Account as EthAccount

from chain.models import ChainDeposit, CryptoWithdrawal, CustodyReconciliation, DepositAddress
from chain.services import (
    WithdrawalRequest,
    chain_process,
    crypto_withdrawal_send,
    crypto_withdrawal_submit,
    custody_reconcile,
    deposit_address_assign,
    network_asset_get,
)
from events.models import Event
from ledger.models import Account, Currency, JournalEntry
from ledger.verification import ledger_verify
from tests.factories import EndUserFactory, open_account

GWEI = 10**9


@pytest.fixture
def funded_user(chain, ethereum):
    """A user with ETH and USDT accounts whose deposit address received 2 ETH and 500 USDT, credited."""
    user = EndUserFactory()
    eth, usdt = open_account(user, "ETH"), open_account(user, "USDT")
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=eth.currency))
    chain.send_ether(address.address, 2 * 10**18)
    chain.send_token(address.address, 500_000_000)
    chain.mine(3)
    chain_process()
    eth.refresh_from_db()
    usdt.refresh_from_db()
    assert (eth.balance, usdt.balance) == (2 * GWEI, 500_000_000)
    return user, eth, usdt, address


def test_deposits_are_credited_once_only_after_the_threshold(chain, ethereum):
    # given: a user's address, and an outsider sending ether (with wei below the ledger's gwei) and USDT
    user = EndUserFactory()
    address, created = deposit_address_assign(user=user, asset=network_asset_get(currency=Currency.objects.get(
        code="ETH")))
    again, created_again = deposit_address_assign(user=user, asset=network_asset_get(
        currency=Currency.objects.get(code="USDT")))
    assert created and not created_again and again.pk == address.pk
    assert address.derivation_index == 1
    assert address.address == EthAccount.from_mnemonic(
        "test test test test test test test test test test test junk", account_path="m/44'/60'/0'/0/1").address
    chain.send_ether(address.address, 10**18 + 7)
    chain.send_token(address.address, 25_000_000)

    # when: the watcher runs below the threshold (3 confirmations)
    chain_process()

    # then: seen, pending, nothing credited
    deposits = ChainDeposit.objects.order_by("currency_id")
    assert [(d.currency_id, d.status, d.amount, d.dust) for d in deposits] == [
        ("ETH", "pending", GWEI, 7), ("USDT", "pending", 25_000_000, 0)]
    assert not Account.objects.filter(user=user, balance__gt=0).exists()
    detected = Event.objects.filter(client=user.client, type="chain_deposit.detected")
    assert sorted((e.data["currency"], e.data["status"], e.data["amount"]) for e in detected) == [
        ("ETH", "pending", "1.000000000"), ("USDT", "pending", "25.000000")]
    assert not Event.objects.filter(type="chain_deposit.credited").exists()

    # when: blocks are mined past the threshold, and the watcher runs twice
    chain.mine(3)
    chain_process()
    chain_process()

    # then: each credited exactly once, custody → user
    balances = dict(Account.objects.filter(user=user).values_list("currency_id", "balance"))
    assert balances == {"ETH": GWEI, "USDT": 25_000_000}
    assert JournalEntry.objects.filter(kind="deposit", chain_deposit__isnull=False).count() == 2
    custody = dict(Account.objects.filter(kind="custody").values_list("currency_id", "balance"))
    assert custody == {"ETH": -GWEI, "USDT": -25_000_000}
    deposit = ChainDeposit.objects.get(currency="ETH")
    assert deposit.explorer_url == f"https://etherscan.io/tx/{deposit.tx_hash}"
    assert custody_reconcile().is_ok
    # and one credited event each, carrying the deposit's entry as its `transaction`
    credited = Event.objects.filter(client=user.client, type="chain_deposit.credited")
    assert sorted((e.data["currency"], e.data["status"]) for e in credited) == [
        ("ETH", "credited"), ("USDT", "credited")]
    assert {e.data["transaction"] for e in credited} == set(
        JournalEntry.objects.filter(kind="deposit", chain_deposit__isnull=False).values_list("pk", flat=True))


def test_a_deposit_reorganised_away_before_the_threshold_is_dropped_never_credited(chain, ethereum):
    # given: a deposit seen with one confirmation
    user = EndUserFactory()
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=Currency.objects.get(code="ETH")))
    snapshot = chain.tester.take_snapshot()
    chain.send_ether(address.address, 10**18)
    chain_process()
    assert ChainDeposit.objects.get().status == "pending"

    dropped_hash = ChainDeposit.objects.get().tx_hash

    # when: the chain reorganises without it (another transfer takes its block height, below the
    # watcher's cursor), and grows past the threshold
    chain.tester.revert_to_snapshot(snapshot)
    chain.send_ether(address.address, 3 * 10**17)
    chain.mine(5)
    chain_process()

    # then: the vanished one is dropped, never credited; the one only the new chain has is found
    assert ChainDeposit.objects.get(tx_hash=dropped_hash).status == "dropped"
    replacement = ChainDeposit.objects.exclude(tx_hash=dropped_hash).get()
    assert replacement.status == "credited"
    assert JournalEntry.objects.filter(kind="deposit").count() == 1
    assert Account.objects.get(user=user).balance == 3 * 10**8


def test_ether_withdrawal_reaches_the_recipient_exactly_and_everything_reconciles(chain, funded_user):
    # given
    user, eth, _, _ = funded_user
    recipient = EthAccount.create().address

    # when
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=eth, address=recipient, amount=GWEI // 2))

    # then: amount + fee held, nothing booked yet
    eth.refresh_from_db()
    assert withdrawal.status == "pending" and withdrawal.network_fee > 0
    assert (eth.balance, eth.held) == (2 * GWEI, GWEI // 2 + withdrawal.network_fee)

    # when: the worker sends it and the chain confirms it
    chain_process()
    withdrawal.refresh_from_db()
    assert withdrawal.status == "broadcast" and withdrawal.tx_hash
    chain.mine(3)
    chain_process()

    # then
    withdrawal.refresh_from_db()
    eth.refresh_from_db()
    assert withdrawal.status == "confirmed"
    assert chain.ether(recipient) == (GWEI // 2) * GWEI
    assert (eth.balance, eth.held) == (2 * GWEI - GWEI // 2 - withdrawal.network_fee, 0)
    assert withdrawal.gas_paid and withdrawal.gas_paid <= withdrawal.network_fee
    assert custody_reconcile().is_ok
    assert ledger_verify().is_ok
    out = StringIO()
    call_command("reconcile_custody", stdout=out)
    assert CustodyReconciliation.objects.latest("ran_at").is_ok


def test_token_withdrawal_reaches_the_recipient_exactly(chain, funded_user):
    # given
    user, _, usdt, _ = funded_user
    recipient = EthAccount.create().address

    # when
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=usdt, address=recipient,
                                                                    amount=100_000_000))
    chain_process()
    chain.mine(3)
    chain_process()

    # then
    withdrawal.refresh_from_db()
    usdt.refresh_from_db()
    assert withdrawal.status == "confirmed"
    assert withdrawal.network_fee == 1_000_000
    assert chain.tokens(recipient) == 100_000_000
    assert usdt.balance == 500_000_000 - 101_000_000
    fee_revenue = Account.objects.get(kind="fee_revenue", currency="USDT")
    assert fee_revenue.balance == 1_000_000
    assert custody_reconcile().is_ok
    assert ledger_verify().is_ok


def test_a_worker_killed_between_signing_and_broadcasting_sends_once(chain, funded_user, monkeypatch):
    # given: a withdrawal whose first broadcast never happens (the process dies after the commit)
    user, eth, _, _ = funded_user
    recipient = EthAccount.create().address
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=eth, address=recipient, amount=GWEI))
    from chain.adapters.ethereum import EthereumAdapter

    real_send = EthereumAdapter.send_withdrawal

    def crash(self, withdrawal):
        raise SystemExit("worker killed")

    monkeypatch.setattr(EthereumAdapter, "send_withdrawal", crash)
    with pytest.raises(SystemExit):
        crypto_withdrawal_send(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "broadcasting" and withdrawal.signed_tx and withdrawal.entry_id
    signed_hash, nonce = withdrawal.tx_hash, withdrawal.nonce
    assert chain.ether(recipient) == 0

    # when: the task is retried twice, then the periodic pass runs
    monkeypatch.setattr(EthereumAdapter, "send_withdrawal", real_send)
    crypto_withdrawal_send(withdrawal_id=withdrawal.pk)
    crypto_withdrawal_send(withdrawal_id=withdrawal.pk)
    chain_process()

    # then: the same transaction, sent once
    withdrawal.refresh_from_db()
    assert (withdrawal.tx_hash, withdrawal.nonce) == (signed_hash, nonce)
    assert chain.ether(recipient) == GWEI * GWEI
    assert JournalEntry.objects.filter(crypto_withdrawal=withdrawal).count() == 1
    sent = [tx for number in range(chain.w3.eth.block_number + 1)
            for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"] if tx["to"] == recipient]
    assert len(sent) == 1


def test_a_transaction_failing_on_chain_is_undone_by_a_compensating_entry(chain, funded_user, monkeypatch):
    # given: a token withdrawal signed against a contract that reverts (the sender holds no tokens)
    user, _, usdt, address = funded_user
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(
        account=usdt, address=EthAccount.create().address, amount=10_000_000))
    from chain.adapters.ethereum import EthereumAdapter

    real_sign = EthereumAdapter.sign_withdrawal

    def sign_from_an_empty_address(self, withdrawal, *, sources, recorded_nonces):
        chain.send_ether(self.hot_wallet_address(), 10**17)
        return real_sign(self, withdrawal, sources=[self.hot_wallet_address()], recorded_nonces=recorded_nonces)

    monkeypatch.setattr(EthereumAdapter, "_source_with_funds", lambda self, **kwargs: self.hot_wallet_address())
    monkeypatch.setattr(EthereumAdapter, "sign_withdrawal", sign_from_an_empty_address)

    # when
    chain_process()
    chain_process()

    # then: failed, visibly reversed, the user whole again
    withdrawal.refresh_from_db()
    usdt.refresh_from_db()
    assert withdrawal.status == "failed"
    assert withdrawal.compensating_entry.reverses_id == withdrawal.entry_id
    assert (usdt.balance, usdt.held) == (500_000_000, 0)
    assert ledger_verify().is_ok


def test_deposit_addresses_are_unique_per_user_and_recoverable(chain, ethereum):
    users = EndUserFactory.create_batch(3)
    asset = network_asset_get(currency=Currency.objects.get(code="ETH"))
    addresses = [deposit_address_assign(user=user, asset=asset)[0] for user in users]
    assert [a.derivation_index for a in addresses] == [1, 2, 3]
    assert len({a.address for a in addresses}) == 3
    assert DepositAddress.objects.filter(is_active=True).count() == 3
    assert CryptoWithdrawal.objects.count() == 0


def test_reconcile_custody_exits_1_and_the_dashboard_shows_a_difference(chain, funded_user, client):
    # given: coins in the hot wallet the ledger knows nothing about
    from chain.adapters.ethereum import EthereumAdapter
    from tests.factories import PlatformStaffFactory

    call_command("reconcile_custody", stdout=StringIO())
    chain.send_ether(EthereumAdapter(ethereum_network()).hot_wallet_address(), 5 * GWEI)

    # when
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile_custody", stdout=out, stderr=StringIO())

    # then
    assert exit_.value.code == 1
    run = CustodyReconciliation.objects.latest("ran_at")
    eth_line = next(line for line in run.lines if line["currency"] == "ETH")
    assert eth_line["difference"] == str(5 * GWEI) and not run.is_ok
    usdt_line = next(line for line in run.lines if line["currency"] == "USDT")
    assert usdt_line["difference"] == "0"
    btc_line = next(line for line in run.lines if line["currency"] == "BTC")
    assert btc_line["checked"] is False
    client.force_login(PlatformStaffFactory(is_superuser=True))
    page = client.get(reverse("operations:dashboard")).content.decode()
    assert "DIFFERS" in page and f"ethereum ETH differs by {5 * GWEI}" in page


def ethereum_network():
    from chain.models import Network

    return Network.objects.get(code="ethereum")


def _crash_before_broadcast(monkeypatch, withdrawal):
    from chain.adapters.ethereum import EthereumAdapter

    real_send = EthereumAdapter.send_withdrawal

    def crash(self, withdrawal):
        raise SystemExit("worker killed")

    monkeypatch.setattr(EthereumAdapter, "send_withdrawal", crash)
    with pytest.raises(SystemExit):
        crypto_withdrawal_send(withdrawal_id=withdrawal.pk)
    monkeypatch.setattr(EthereumAdapter, "send_withdrawal", real_send)
    withdrawal.refresh_from_db()


def test_a_node_refusing_a_broadcast_for_now_leaves_it_to_retry(chain, funded_user, monkeypatch):
    # given: a signed withdrawal the node refuses once (busy, fees …)
    _, eth, _, _ = funded_user
    recipient = EthAccount.create().address
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=eth, address=recipient, amount=GWEI))
    _crash_before_broadcast(monkeypatch, withdrawal)
    real_send_raw = type(chain.w3.eth).send_raw_transaction

    def refuse(self, raw):
        raise ValueError("node busy")

    monkeypatch.setattr(type(chain.w3.eth), "send_raw_transaction", refuse)

    # when
    counts = chain_process()

    # then: still broadcasting, nothing refunded, nothing sent
    withdrawal.refresh_from_db()
    assert counts["errors"] == 1 and withdrawal.status == "broadcasting"
    assert withdrawal.compensating_entry_id is None and chain.ether(recipient) == 0

    # when: the node accepts again
    monkeypatch.setattr(type(chain.w3.eth), "send_raw_transaction", real_send_raw)
    chain_process()

    # then
    withdrawal.refresh_from_db()
    assert withdrawal.status == "broadcast" and chain.ether(recipient) == GWEI * GWEI


def test_a_signed_transaction_whose_nonce_another_took_fails_and_is_compensated(chain, funded_user, monkeypatch):
    # given: a signed, recorded, not broadcast withdrawal, and another transaction from the same
    # address with the same nonce mined first
    from chain.adapters.ethereum import hd_account

    _, eth, _, address = funded_user
    recipient = EthAccount.create().address
    withdrawal = crypto_withdrawal_submit(request=WithdrawalRequest(account=eth, address=recipient, amount=GWEI))
    _crash_before_broadcast(monkeypatch, withdrawal)
    signer = hd_account(DepositAddress.objects.get(address=withdrawal.source_address).derivation_index)
    other = signer.sign_transaction({"to": chain.funder, "value": 1, "gas": 21_000, "gasPrice": 10**9,
                                     "nonce": withdrawal.nonce, "chainId": chain.w3.eth.chain_id})
    chain.w3.eth.send_raw_transaction(other.raw_transaction)

    # when
    chain_process()

    # then: failed, reversed visibly, nothing reached the recipient
    withdrawal.refresh_from_db()
    eth.refresh_from_db()
    assert withdrawal.status == "failed" and "nonce" in withdrawal.failure_reason
    assert withdrawal.compensating_entry.reverses_id == withdrawal.entry_id
    assert (eth.balance, eth.held) == (2 * GWEI, 0)
    assert chain.ether(recipient) == 0


def test_the_watcher_reads_a_bounded_range_per_pass_and_catches_up(chain, ethereum, monkeypatch):
    # given: a deposit buried under many blocks, and passes that read 4 blocks each (2 of them again)
    from chain.adapters.ethereum import EthereumAdapter

    monkeypatch.setattr(EthereumAdapter, "max_blocks_per_scan", 4)
    user = EndUserFactory()
    address, _ = deposit_address_assign(user=user, asset=network_asset_get(currency=Currency.objects.get(code="ETH")))
    chain.mine(6)
    chain.send_ether(address.address, GWEI * GWEI)
    chain.mine(6)

    # when / then: the first pass has not reached it; later passes find and credit it once
    chain_process()
    assert not ChainDeposit.objects.exists()
    for _ in range(6):
        chain_process()
    deposit = ChainDeposit.objects.get()
    assert deposit.status == "credited"
    assert Account.objects.get(user=user, currency="ETH").balance == GWEI
