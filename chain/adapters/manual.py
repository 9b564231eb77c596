"""Manual custody, for networks without a node here (BTC).

The custodian holds the keys in cold storage. Deposit addresses come from its file
(`load_deposit_addresses`); deposits and their confirmations are imported
(`import_chain_deposits`); withdrawals wait in the admin queue, where staff record the hash of the
transaction they sent and its confirmations. This adapter therefore never signs, sends or reads
a chain: it says so, and the services route the work to people.
"""

from collections.abc import Collection, Mapping

from chain.adapters.base import CustodyAdapter, IncomingTransfer, SignedTransaction, TxStatus
from chain.errors import CustodyConfigurationError
from chain.models import CryptoWithdrawal, NetworkAsset


class ManualCustodyAdapter(CustodyAdapter):
    is_manual = True

    def derive_address(self, index: int) -> str:
        raise CustodyConfigurationError(
            f"{self.network.name} addresses come from the custodian's file (load_deposit_addresses)."
        )

    def incoming_transfers(
        self, *, since_cursor: int, addresses: Collection[str]
    ) -> tuple[list[IncomingTransfer], int]:
        return [], since_cursor

    def sign_withdrawal(
        self, withdrawal: CryptoWithdrawal, *, sources: list[str], recorded_nonces: Mapping[str, int]
    ) -> SignedTransaction | None:
        return None

    def send_withdrawal(self, withdrawal: CryptoWithdrawal) -> str:
        raise CustodyConfigurationError("Staff send manual-custody withdrawals and record the hash in admin.")

    def tx_status(self, tx_hash: str) -> TxStatus | None:
        return None

    def estimate_fee(self, asset: NetworkAsset) -> int:
        return asset.withdrawal_fee

    def balance(self, *, address: str, asset: NetworkAsset) -> int | None:
        return None
