"""The in-process Ethereum chain for the crypto-rail tests.

eth-tester lives in the test process (settings.ETHEREUM_RPC_URL = "eth-tester://"). Each test
takes a snapshot first and reverts to it at the end, so chains do not leak between tests the way
the database does not."""

from dataclasses import dataclass

import pytest
from web3 import Web3

from chain.adapters.ethereum import tester_web3
from chain.devchain import token_deploy, usdt_point_at
from chain.models import Network


@dataclass
class Chain:
    w3: Web3
    funder: str
    token: object

    @property
    def tester(self):
        return self.w3.provider.ethereum_tester

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def send_ether(self, to: str, wei: int) -> str:
        return self.w3.eth.send_transaction({"from": self.funder, "to": to, "value": wei}).hex()

    def send_token(self, to: str, units: int) -> str:
        return self.token.functions.transfer(to, units).transact({"from": self.funder}).hex()

    def ether(self, address: str) -> int:
        return self.w3.eth.get_balance(address)

    def tokens(self, address: str) -> int:
        return self.token.functions.balanceOf(address).call()


@pytest.fixture
def chain(db):
    w3 = tester_web3()
    snapshot = w3.provider.ethereum_tester.take_snapshot()
    funder = w3.eth.accounts[0]
    token = token_deploy(w3, deployer=funder)
    usdt_point_at(token.address)
    Network.objects.filter(code="ethereum").update(confirmations_required=3, scan_cursor=w3.eth.block_number)
    yield Chain(w3=w3, funder=funder, token=token)
    w3.provider.ethereum_tester.revert_to_snapshot(snapshot)


@pytest.fixture
def ethereum(chain) -> Network:
    return Network.objects.get(code="ethereum")
