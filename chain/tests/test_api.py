"""The crypto-rail API: deposit addresses, chain deposits, crypto withdrawals."""

import pytest
from eth_account import Account as EthAccount

from accounts.services import user_freeze
from broker.services.rates import rate_update
from chain.models import CryptoWithdrawal, DepositAddress, Network
from chain.services import chain_process, deposit_addresses_load
from ledger.models import Account, Hold
from tests.factories import open_account
from tests.fixtures import end_user_auth, ledger_snapshot

GWEI = 10**9
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
ETH_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def eth_account(tenant):
    """The tenant user's ETH account holding 2 ETH (deposited through the ledger)."""
    return open_account(tenant.user, "ETH", deposit=2 * GWEI)


def _withdraw(api, tenant, account, *, address=ETH_ADDRESS, amount="0.5", key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post("/api/v1/crypto-withdrawals/", {"account": account.pk, "address": address, "amount": amount,
                                                    **extra}, format="json", **tenant.auth, **headers)


def test_a_deposit_address_is_assigned_once_per_user_and_network(api, tenant, chain):
    # when
    first = api.post(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", {"currency": "ETH"}, format="json",
                     **tenant.auth)
    again = api.post(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", {"currency": "usdt"}, format="json",
                     **tenant.auth)
    listed = api.get(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", **tenant.auth)

    # then
    assert first.status_code == 201, first.content
    assert again.status_code == 200
    body = first.json()
    assert body["network"] == "ethereum" and body["currency"] == "ETH"
    assert body["currencies"] == ["ETH", "USDT"]
    assert again.json()["address"] == body["address"] and again.json()["currency"] == "USDT"
    assert body["explorer_url"] == f"https://etherscan.io/address/{body['address']}"
    assert [row["address"] for row in listed.json()["results"]] == [body["address"]]
    assert DepositAddress.objects.filter(user=tenant.user).count() == 1


def test_manual_custody_addresses_come_from_the_custodian_pool(api, tenant):
    # given: an empty pool
    path = f"/api/v1/users/{tenant.user.pk}/deposit-addresses/"
    empty = api.post(path, {"currency": "BTC"}, format="json", **tenant.auth)
    assert empty.status_code == 409 and empty.json()["code"] == "no_deposit_address_available"

    # when: the custodian's file is loaded
    deposit_addresses_load(network=Network.objects.get(code="bitcoin"), addresses=[BTC_ADDRESS])
    response = api.post(path, {"currency": "BTC"}, format="json", **tenant.auth)

    # then
    assert response.status_code == 201
    assert response.json()["address"] == BTC_ADDRESS
    assert DepositAddress.objects.get(address=BTC_ADDRESS).user == tenant.user


def test_a_currency_no_network_carries_is_refused(api, tenant):
    response = api.post(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", {"currency": "EUR"}, format="json",
                        **tenant.auth)
    assert response.status_code == 400 and response.json()["code"] == "wrong_network"
    assert not DepositAddress.objects.exists()


def test_chain_deposits_are_listed_with_confirmations_and_filters(api, tenant, other_tenant, chain):
    # given: a USDT deposit on chain, not yet credited
    address = api.post(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", {"currency": "USDT"}, format="json",
                       **tenant.auth).json()["address"]
    chain.send_token(address, 7_500_000)
    chain_process()

    # when
    pending = api.get("/api/v1/chain-deposits/?status=pending&currency=usdt", **tenant.auth)
    credited = api.get("/api/v1/chain-deposits/?status=credited", **tenant.auth)
    others = api.get("/api/v1/chain-deposits/", **other_tenant.auth)

    # then
    row = pending.json()["results"][0]
    assert row["amount"] == "7.500000" and row["status"] == "pending"
    assert row["confirmations"] == 1 and row["confirmations_required"] == 3
    assert row["explorer_url"] == f"https://etherscan.io/tx/{row['tx_hash']}"
    assert row["user"] == tenant.user.pk and row["transaction"] is None
    assert credited.json()["results"] == []
    assert others.json()["results"] == []
    assert api.get(f"/api/v1/chain-deposits/{row['id']}/", **other_tenant.auth).status_code == 404
    assert api.get(f"/api/v1/chain-deposits/?user={tenant.peer.pk}", **tenant.auth).json()["results"] == []


def test_a_withdrawal_is_accepted_held_and_replayed_by_its_idempotency_key(api, tenant, eth_account, chain):
    # when
    response = _withdraw(api, tenant, eth_account, key="cw-1")
    replay = _withdraw(api, tenant, eth_account, key="cw-1")

    # then
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["amount"] == "0.500000000" and body["network"] == "ethereum"
    assert body["address"] == ETH_ADDRESS and body["currency"] == "ETH"
    fee = int(body["network_fee"].replace(".", ""))
    assert fee > 0 and body["total"] == _render(GWEI // 2 + fee)
    assert replay.json()["id"] == body["id"] and replay["Idempotent-Replayed"] == "true"
    assert CryptoWithdrawal.objects.count() == 1
    eth_account.refresh_from_db()
    assert (eth_account.balance, eth_account.held) == (2 * GWEI, GWEI // 2 + fee)


def _render(minor: int) -> str:
    return f"{minor // GWEI}.{minor % GWEI:09d}"


@pytest.mark.parametrize("address", [
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", BTC_ADDRESS,
])
def test_an_invalid_address_is_a_400_and_holds_nothing(api, tenant, eth_account, address):
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account, address=address)
    assert response.status_code == 400 and response.json()["code"] == "invalid_address"
    assert ledger_snapshot() == before and not CryptoWithdrawal.objects.exists()


def test_a_network_that_does_not_carry_the_currency_is_refused(api, tenant, eth_account):
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account, network="bitcoin")
    assert response.status_code == 400 and response.json()["code"] == "wrong_network"
    assert ledger_snapshot() == before and not Hold.objects.filter(account=eth_account).exists()


def test_amount_plus_fee_beyond_the_available_balance_is_refused(api, tenant, eth_account, chain):
    # given: 2 ETH available; 2 ETH would leave nothing for the network fee
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account, amount="2")
    assert response.status_code == 422 and response.json()["code"] == "insufficient_funds"
    assert ledger_snapshot() == before and not CryptoWithdrawal.objects.exists()


def test_a_currency_the_user_is_not_authorized_for_is_refused(api, tenant, eth_account):
    from ledger.models import CurrencyAuthorization

    CurrencyAuthorization.objects.filter(user=tenant.user, currency="ETH").delete()
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account)
    assert response.status_code == 403 and response.json()["code"] == "currency_not_authorized"
    assert ledger_snapshot() == before and not CryptoWithdrawal.objects.exists()


def test_a_frozen_user_cannot_withdraw(api, tenant, eth_account):
    user_freeze(user=tenant.user, actor=None, reason="investigation")
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account)
    assert response.status_code == 422 and response.json()["code"] == "user_frozen"
    assert ledger_snapshot() == before


def test_a_withdrawal_above_the_review_threshold_waits_for_compliance(api, tenant, eth_account, settings):
    settings.WITHDRAWAL_REVIEW_THRESHOLD_USD = 100_00
    rate_update(currency="ETH", price_e8=3_000 * 10**8)
    response = _withdraw(api, tenant, eth_account)
    assert response.status_code == 202 and response.json()["status"] == "pending_review"
    chain_process()
    assert CryptoWithdrawal.objects.get().status == "pending_review"


def test_cancel_releases_the_hold_once_and_only_before_broadcast(api, tenant, eth_account, chain):
    # given
    withdrawal = _withdraw(api, tenant, eth_account).json()
    path = f"/api/v1/crypto-withdrawals/{withdrawal['id']}/cancel/"

    # when
    cancelled = api.post(path, {}, format="json", **tenant.auth)
    again = api.post(path, {}, format="json", **tenant.auth)

    # then
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409 and again.json()["code"] == "withdrawal_not_cancellable"
    eth_account.refresh_from_db()
    assert (eth_account.balance, eth_account.held) == (2 * GWEI, 0)
    chain_process()
    assert CryptoWithdrawal.objects.get().status == "cancelled"


def test_a_broadcast_withdrawal_cannot_be_cancelled(api, tenant, chain):
    # given: coins on chain in custody, and a withdrawal the worker sent
    account = open_account(tenant.user, "ETH")
    address = api.post(f"/api/v1/users/{tenant.user.pk}/deposit-addresses/", {"currency": "ETH"}, format="json",
                       **tenant.auth).json()["address"]
    chain.send_ether(address, 10**18)
    chain.mine(3)
    chain_process()
    recipient = EthAccount.create().address
    withdrawal = _withdraw(api, tenant, account, address=recipient, amount="0.25").json()
    chain_process()

    # when
    response = api.post(f"/api/v1/crypto-withdrawals/{withdrawal['id']}/cancel/", {}, format="json", **tenant.auth)
    detail = api.get(f"/api/v1/crypto-withdrawals/{withdrawal['id']}/", **tenant.auth).json()

    # then
    assert response.status_code == 409
    assert detail["status"] == "broadcast" and detail["tx_hash"].startswith("0x")
    assert detail["explorer_url"].endswith(detail["tx_hash"]) and detail["transaction"]
    assert chain.ether(recipient) == GWEI // 4 * GWEI


def test_withdrawals_of_another_client_are_not_found(api, tenant, other_tenant, eth_account):
    withdrawal = _withdraw(api, tenant, eth_account).json()
    before = ledger_snapshot()
    assert api.get(f"/api/v1/crypto-withdrawals/{withdrawal['id']}/", **other_tenant.auth).status_code == 404
    cancel = api.post(f"/api/v1/crypto-withdrawals/{withdrawal['id']}/cancel/", {}, format="json",
                      **other_tenant.auth)
    assert cancel.status_code == 404
    assert api.get("/api/v1/crypto-withdrawals/", **other_tenant.auth).json()["results"] == []
    assert ledger_snapshot() == before
    assert CryptoWithdrawal.objects.get().status == "pending"


def test_end_users_have_no_access_to_crypto_rails(api, tenant, eth_account):
    auth = end_user_auth(tenant.user)
    assert api.get("/api/v1/crypto-withdrawals/", **auth).status_code == 403
    assert api.get("/api/v1/chain-deposits/", **auth).status_code == 403
    response = api.post("/api/v1/crypto-withdrawals/", {"account": eth_account.pk, "address": ETH_ADDRESS,
                                                        "amount": "0.1"}, format="json", **auth)
    assert response.status_code == 403
    assert not Account.objects.filter(held__gt=0, currency="ETH").exists()


def test_an_unreachable_node_is_a_503_and_the_pass_goes_on(api, tenant, eth_account, settings):
    # given: a node URL nothing listens on
    settings.ETHEREUM_RPC_URL = "http://127.0.0.1:9"
    before = ledger_snapshot()

    # when
    response = _withdraw(api, tenant, eth_account)
    counts = chain_process()

    # then
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "chain_unavailable"
    assert ledger_snapshot() == before and not CryptoWithdrawal.objects.exists()
    assert counts["errors"] == 1


@pytest.mark.parametrize("amount", ["0", "-1", "0.0000000001", "abc", True, None])
def test_an_invalid_amount_is_a_400_and_holds_nothing(api, tenant, eth_account, amount):
    before = ledger_snapshot()
    response = _withdraw(api, tenant, eth_account, amount=amount)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid_amount", "validation_error")
    assert ledger_snapshot() == before and not CryptoWithdrawal.objects.exists()
