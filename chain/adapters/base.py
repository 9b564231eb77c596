"""The custody adapter interface every network implementation follows.

Adapters talk to a chain (or to nobody, for manual custody) and never write to the database: the
chain services record what an adapter returns, in their own transactions. That split is what
makes sending crash-safe: `sign_withdrawal` returns a signed transaction, the service commits it,
and only then does `send_withdrawal` broadcast what was committed — again on every retry.
"""

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from chain.models import CryptoWithdrawal, Network, NetworkAsset


class TxState(StrEnum):
    PENDING = "pending"  # known to the node, not in a block yet
    SUCCESS = "success"
    FAILED = "failed"  # mined, but reverted: nothing moved but the fee
    MISSING = "missing"  # unknown to the node: never sent, dropped, or reorganised away


@dataclass(frozen=True)
class TxStatus:
    state: TxState
    confirmations: int = 0
    block_number: int | None = None
    fee_paid: int | None = None  # minor units of the network's native coin


@dataclass(frozen=True)
class IncomingTransfer:
    tx_hash: str
    output_index: int
    address: str
    currency_code: str
    chain_amount: int  # chain base units (wei, token units, satoshi)
    block_number: int


@dataclass(frozen=True)
class SignedTransaction:
    raw: str  # hex
    tx_hash: str
    nonce: int
    source_address: str


class CustodyAdapter(ABC):
    """One network's custody: derive addresses, list incoming transfers, sign and send, track."""

    #: Manual custody: staff send from cold storage and record hashes and confirmations in admin.
    is_manual: bool = False
    #: HD indexes below this are reserved (the hot wallet); deposit addresses start here.
    first_deposit_index: int = 0

    def __init__(self, network: Network):
        self.network = network

    @abstractmethod
    def derive_address(self, index: int) -> str:
        """The deposit address at HD index `index` (recoverable from the seed alone)."""

    def hot_wallet_address(self) -> str | None:
        """Our sending address, if this adapter signs (None for manual custody)."""
        return None

    @abstractmethod
    def incoming_transfers(
        self, *, since_cursor: int, addresses: Collection[str]
    ) -> tuple[list[IncomingTransfer], int]:
        """Transfers to `addresses` from block `since_cursor` on (re-reading recent blocks as the
        chain needs, against reorganisations), and the cursor the next pass resumes from."""

    @abstractmethod
    def sign_withdrawal(
        self, withdrawal: CryptoWithdrawal, *, sources: list[str], recorded_nonces: Mapping[str, int]
    ) -> SignedTransaction | None:
        """Sign the withdrawal from one of our `sources` (None: no signing here, staff send it).
        `recorded_nonces` are the highest nonces already signed per source, broadcast or not."""

    @abstractmethod
    def send_withdrawal(self, withdrawal: CryptoWithdrawal) -> str:
        """Broadcast the recorded signed transaction (again, on a retry); its hash."""

    @abstractmethod
    def tx_status(self, tx_hash: str) -> TxStatus | None:
        """Confirmations and outcome of a transaction (None: the adapter cannot see the chain)."""

    @abstractmethod
    def estimate_fee(self, asset: NetworkAsset) -> int:
        """The network fee charged for one withdrawal of `asset`, in its minor units."""

    @abstractmethod
    def balance(self, *, address: str, asset: NetworkAsset) -> int | None:
        """What `address` holds of `asset` on chain, in chain base units (None: not observable)."""


class BroadcastRejectedError(Exception):
    """The transaction can never be mined (its nonce was used by another one): it has failed.
    Any other refusal is transient and raised as ChainUnavailableError, to be retried."""
