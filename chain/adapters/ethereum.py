"""Ethereum custody through web3.py: ether and ERC-20 tokens (USDT), real signed transactions.

Keys: every address is derived from one BIP-39 mnemonic (settings.CHAIN_HD_SEED, from the
environment, never the database) on the BIP-44 path m/44'/60'/0'/0/{index}. Index 0 is the hot
wallet; deposit addresses take 1, 2, … so each is recoverable from the seed and its index.

Node: settings.ETHEREUM_RPC_URL — an http(s):// node in production, or `eth-tester://` for an
in-process py-evm chain (tests; one chain per process, so `make run` serves one over HTTP with
`chain_devnode` and points both processes at it).

Custody is omnibus: a withdrawal is signed by the first of our addresses (hot wallet first) that
holds the amount and the gas. Transactions are legacy (type 0) with a gas price rounded up to the
ledger's precision of ether (gwei), so the fee paid is exactly representable in the ledger.
"""

import functools
from collections.abc import Collection, Mapping
from typing import Any, cast

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from chain.adapters.base import (
    BroadcastRejectedError,
    CustodyAdapter,
    IncomingTransfer,
    SignedTransaction,
    TxState,
    TxStatus,
)
from chain.errors import ChainUnavailableError, CustodyConfigurationError
from chain.models import CryptoWithdrawal, Network, NetworkAsset

HOT_WALLET_INDEX = 0
DERIVATION_PATH = "m/44'/60'/0'/0/{index}"
TESTER_URL = "eth-tester://"
TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
NATIVE_GAS = 21_000
TOKEN_GAS_LIMIT = 100_000
# The smallest ERC-20 interface the adapter calls.
ERC20_ABI = [
    {"name": "transfer", "type": "function", "stateMutability": "nonpayable",
     "inputs": [{"name": "_to", "type": "address"}, {"name": "_value", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "_owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
]

Account.enable_unaudited_hdwallet_features()


@functools.cache
def tester_web3() -> Web3:
    """This process's in-process chain (eth-tester on py-evm): blocks are mined on demand."""
    from web3 import EthereumTesterProvider

    return Web3(EthereumTesterProvider())


def node_web3() -> Web3:
    url = settings.ETHEREUM_RPC_URL
    if not url:
        raise CustodyConfigurationError("ETHEREUM_RPC_URL is not set: the Ethereum network has no node.")
    if url == TESTER_URL:
        return tester_web3()
    return _http_web3(url)


@functools.cache
def _http_web3(url: str) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))


@functools.lru_cache(maxsize=1024)
def _derived(seed: str, index: int) -> LocalAccount:
    return Account.from_mnemonic(seed, account_path=DERIVATION_PATH.format(index=index))


def hd_account(index: int) -> LocalAccount:
    seed = settings.CHAIN_HD_SEED
    if not seed:
        raise CustodyConfigurationError("CHAIN_HD_SEED is not set: no addresses can be derived or signed for.")
    return _derived(seed, index)


class EthereumAdapter(CustodyAdapter):
    first_deposit_index = HOT_WALLET_INDEX + 1
    max_blocks_per_scan = 500

    def __init__(self, network: Network):
        super().__init__(network)
        self._w3: Web3 | None = None

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            self._w3 = node_web3()
        return self._w3

    # Addresses -------------------------------------------------------------------------------

    def derive_address(self, index: int) -> str:
        return hd_account(index).address

    def hot_wallet_address(self) -> str:
        return self.derive_address(HOT_WALLET_INDEX)

    # Deposits --------------------------------------------------------------------------------

    def incoming_transfers(
        self, *, since_cursor: int, addresses: Collection[str]
    ) -> tuple[list[IncomingTransfer], int]:
        ours = {address.lower(): address for address in addresses}
        assets = list(self.network.assets.select_related("currency"))
        with _node_errors():
            latest = self.w3.eth.block_number
            if since_cursor > latest or not ours:
                return [], latest + 1
            # Recent blocks are read again: after a reorganisation they may hold transfers the
            # replaced blocks did not. Nodes cap log queries and each block is a request, so a pass
            # reads at most `max_blocks_per_scan` blocks, always moving past the cursor.
            rescan = min(self.network.confirmations_required, self.max_blocks_per_scan // 2)
            first = max(since_cursor - rescan, 0)
            last = min(latest, first + self.max_blocks_per_scan - 1)
            transfers = []
            native = next((asset for asset in assets if asset.is_native), None)
            if native is not None:
                transfers += self._native_transfers(first, last, ours, native)
            for asset in assets:
                if not asset.is_native:
                    transfers += self._token_transfers(first, last, ours, asset)
        return transfers, last + 1

    def _native_transfers(self, first: int, last: int, ours: dict, asset: NetworkAsset) -> list[IncomingTransfer]:
        found = []
        for number in range(first, last + 1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in cast(list[dict[str, Any]], block["transactions"]):
                to = (tx.get("to") or "").lower()
                if to in ours and tx["value"] > 0:
                    receipt = self.w3.eth.get_transaction_receipt(tx["hash"])
                    if receipt["status"] == 1:
                        found.append(IncomingTransfer(
                            tx_hash=_hex(tx["hash"]), output_index=0, address=ours[to],
                            currency_code=asset.currency_id, chain_amount=int(tx["value"]), block_number=number,
                        ))
        return found

    def _token_transfers(self, first: int, last: int, ours: dict, asset: NetworkAsset) -> list[IncomingTransfer]:
        logs = self.w3.eth.get_logs({
            "fromBlock": first, "toBlock": last, "address": Web3.to_checksum_address(asset.contract_address),
            "topics": [TRANSFER_TOPIC],
        })
        found = []
        for log in logs:
            if len(log["topics"]) != 3 or log.get("removed"):
                continue
            to = "0x" + bytes(log["topics"][2])[-20:].hex()
            if to in ours:
                found.append(IncomingTransfer(
                    tx_hash=_hex(log["transactionHash"]), output_index=int(log["logIndex"]), address=ours[to],
                    currency_code=asset.currency_id, chain_amount=int.from_bytes(bytes(log["data"]), "big"),
                    block_number=int(log["blockNumber"]),
                ))
        return found

    # Withdrawals -----------------------------------------------------------------------------

    def sign_withdrawal(
        self, withdrawal: CryptoWithdrawal, *, sources: list[str], recorded_nonces: Mapping[str, int]
    ) -> SignedTransaction | None:
        asset = self.network.assets.select_related("currency").get(currency_id=withdrawal.account.currency_id)
        value = withdrawal.amount * 10 ** (asset.chain_decimals - asset.currency.scale)
        with _node_errors():
            gas_price = self._gas_price()
            gas = NATIVE_GAS if asset.is_native else TOKEN_GAS_LIMIT
            source = self._source_with_funds(asset=asset, sources=sources, value=value, gas_cost=gas * gas_price)
            signer = hd_account(self._index_of(source))
            nonce = max(
                self.w3.eth.get_transaction_count(signer.address, "pending"),
                recorded_nonces.get(signer.address, -1) + 1,
            )
            tx: dict[str, Any] = {"nonce": nonce, "gas": gas, "gasPrice": gas_price, "chainId": self.w3.eth.chain_id}
            if asset.is_native:
                tx.update(to=withdrawal.address, value=value, data=b"")
            else:
                token = self.w3.eth.contract(address=Web3.to_checksum_address(asset.contract_address), abi=ERC20_ABI)
                tx.update(to=token.address, value=0,
                          data=token.encode_abi("transfer", args=[withdrawal.address, value]))
        signed = signer.sign_transaction(tx)
        return SignedTransaction(
            raw=_hex(signed.raw_transaction), tx_hash=_hex(signed.hash), nonce=nonce, source_address=signer.address
        )

    def send_withdrawal(self, withdrawal: CryptoWithdrawal) -> str:
        with _node_errors():
            if self._is_known(withdrawal.tx_hash):
                return withdrawal.tx_hash
            try:
                sent = self.w3.eth.send_raw_transaction(HexStr(withdrawal.signed_tx))
            except (ValueError, Web3Exception, EthValidationError) as error:
                if self._is_known(withdrawal.tx_hash):
                    return withdrawal.tx_hash
                # Only a nonce consumed by another transaction makes ours impossible for good; any
                # other refusal (fees, funds, a busy node) may pass later, so it is retried.
                mined = self.w3.eth.get_transaction_count(
                    Web3.to_checksum_address(withdrawal.source_address), "latest"
                )
                if withdrawal.nonce is not None and mined > withdrawal.nonce:
                    raise BroadcastRejectedError(
                        f"nonce {withdrawal.nonce} was used by another transaction: {error}"[:300]
                    ) from None
                raise ChainUnavailableError(f"The node did not accept the transaction yet: {error}") from None
        return _hex(sent)

    def tx_status(self, tx_hash: str) -> TxStatus | None:
        with _node_errors():
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                return TxStatus(state=TxState.PENDING if self._is_known(tx_hash) else TxState.MISSING)
            latest = self.w3.eth.block_number
        native = self.network.assets.select_related("currency").filter(contract_address="").first()
        factor = 10 ** (native.chain_decimals - native.currency.scale) if native else 1
        paid = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice") or 0)
        return TxStatus(
            state=TxState.SUCCESS if receipt["status"] == 1 else TxState.FAILED,
            confirmations=max(latest - int(receipt["blockNumber"]) + 1, 0),
            block_number=int(receipt["blockNumber"]),
            # Exact: the gas price was rounded up to the ledger's precision when signing.
            fee_paid=-(-paid // factor),
        )

    def estimate_fee(self, asset: NetworkAsset) -> int:
        if not asset.is_native:
            return asset.withdrawal_fee
        with _node_errors():
            gas_price = self._gas_price()
        factor = 10 ** (asset.chain_decimals - asset.currency.scale)
        return max(asset.withdrawal_fee, NATIVE_GAS * gas_price // factor)

    def balance(self, *, address: str, asset: NetworkAsset) -> int | None:
        with _node_errors():
            if asset.is_native:
                return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))
            token = self.w3.eth.contract(address=Web3.to_checksum_address(asset.contract_address), abi=ERC20_ABI)
            return int(token.functions.balanceOf(Web3.to_checksum_address(address)).call())

    # Helpers ---------------------------------------------------------------------------------

    def _gas_price(self) -> int:
        """The node's gas price rounded up to the ledger's precision of the native coin."""
        native = self.network.assets.select_related("currency").get(contract_address="")
        factor = 10 ** (native.chain_decimals - native.currency.scale)
        price = int(self.w3.eth.gas_price)
        return max(-(-price // factor), 1) * factor

    def _source_with_funds(self, *, asset: NetworkAsset, sources: list[str], value: int, gas_cost: int) -> str:
        for source in sources:
            ether = self.w3.eth.get_balance(Web3.to_checksum_address(source))
            if asset.is_native and ether >= value + gas_cost:
                return source
            if not asset.is_native and ether >= gas_cost and (self.balance(address=source, asset=asset) or 0) >= value:
                return source
        raise ChainUnavailableError(
            f"No custody address holds {value} base units of {asset} plus gas; top up the hot wallet."
        )

    def _index_of(self, address: str) -> int:
        from chain.models import DepositAddress

        if address == self.hot_wallet_address():
            return HOT_WALLET_INDEX
        index = DepositAddress.objects.get(network=self.network, address=address).derivation_index
        if index is None:
            raise CustodyConfigurationError(f"{address} is not derived from the seed; it cannot sign here.")
        return index

    def _is_known(self, tx_hash: str) -> bool:
        if not tx_hash:
            return False
        try:
            self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            return False
        return True


class _node_errors:
    """Connection failures become ChainUnavailableError: the pass stops and is retried later."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is not None and isinstance(error, OSError | ConnectionError):
            raise ChainUnavailableError(f"Ethereum node unavailable: {error}") from error
        return False


def _hex(value) -> str:
    text = value.hex() if hasattr(value, "hex") else str(value)
    return text if text.startswith("0x") else "0x" + text
