"""Helpers for a development chain (eth-tester): deploy the test ERC-20 that plays USDT and point
the Ethereum network's USDT asset at it. Used by the tests and by `chain_devnode`; never by the
production code paths, which read the contract address from the network's data."""

import json
from pathlib import Path

from web3 import Web3

from chain.models import NetworkAsset

ERC20_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "erc20.json"


def erc20_fixture() -> dict:
    return json.loads(ERC20_FIXTURE.read_text())


def token_deploy(w3: Web3, *, deployer: str, name: str = "Tether USD", symbol: str = "USDT", decimals: int = 6,
                 supply: int = 10**15):
    """Deploy the fixture ERC-20 (whole supply to `deployer`); returns the contract."""
    fixture = erc20_fixture()
    factory = w3.eth.contract(abi=fixture["abi"], bytecode=fixture["bytecode"])
    tx_hash = factory.constructor(name, symbol, decimals, supply).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    return w3.eth.contract(address=receipt["contractAddress"], abi=fixture["abi"])


def usdt_point_at(contract_address: str) -> None:
    NetworkAsset.objects.filter(network__code="ethereum", currency_id="USDT").update(
        contract_address=contract_address
    )
