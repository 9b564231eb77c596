"""The development node serves the eth-tester chain over JSON-RPC: a web3 HTTP client (the
production code path) reads and writes it as it would in-process."""

import threading
from http.server import HTTPServer

import pytest
from eth_account import Account as EthAccount
from web3 import EthereumTesterProvider, Web3

from chain.devchain import token_deploy
from chain.management.commands.chain_devnode import rpc_handler


@pytest.fixture
def node():
    chain = Web3(EthereumTesterProvider())
    server = HTTPServer(("127.0.0.1", 0), rpc_handler(chain))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield chain, Web3(Web3.HTTPProvider(f"http://127.0.0.1:{server.server_address[1]}"))
    server.shutdown()
    server.server_close()


def test_a_web3_http_client_reads_and_writes_the_served_chain(node):
    chain, client = node
    funder = client.eth.accounts[0]
    token = token_deploy(chain, deployer=chain.eth.accounts[0])
    signer = EthAccount.create()

    # when: ether is sent, a token transfer is made, and a signed transaction is broadcast
    client.eth.send_transaction({"from": funder, "to": signer.address, "value": 10**18})
    token.functions.transfer(signer.address, 5).transact({"from": chain.eth.accounts[0]})
    signed = signer.sign_transaction({"to": funder, "value": 1, "gas": 21_000, "gasPrice": client.eth.gas_price,
                                      "nonce": 0, "chainId": client.eth.chain_id})
    tx_hash = client.eth.send_raw_transaction(signed.raw_transaction)

    # then: the client sees what the chain holds
    receipt = client.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == chain.eth.block_number
    assert client.eth.get_balance(signer.address) == chain.eth.get_balance(signer.address)
    logs = client.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address})
    assert int.from_bytes(bytes(logs[-1]["data"]), "big") == 5
    block = client.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert block["transactions"][0]["hash"] == tx_hash
    with pytest.raises(Exception, match="nonce"):
        client.eth.send_raw_transaction(signed.raw_transaction)
