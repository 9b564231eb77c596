"""Address validation with each network's real rules, through maintained libraries.

Ethereum: EIP-55 mixed-case checksum (eth-utils). All-lowercase or all-uppercase addresses carry
no checksum, so a typo in them cannot be caught: they are refused, and the caller sends the
checksummed form. Bitcoin: base58check (P2PKH/P2SH version bytes) with the `base58` package, and
segwit bech32 (v0) / bech32m (v1+, BIP-350) with the `bech32m` package (Pieter Wuille's
reference code).
"""

import base58
import bech32m  # type: ignore[import-untyped]
from eth_utils import is_checksum_address

from chain.errors import InvalidAddressError
from chain.models import Network

# Base58check version bytes: P2PKH and P2SH.
_BASE58_VERSIONS: dict[str, set[int]] = {
    Network.AddressKind.BITCOIN: {0x00, 0x05},
    Network.AddressKind.BITCOIN_TESTNET: {0x6F, 0xC4},
}
_BECH32_HRP: dict[str, str] = {Network.AddressKind.BITCOIN: "bc", Network.AddressKind.BITCOIN_TESTNET: "tb"}


def address_normalize(*, network: Network, address: str) -> str:
    """The address as stored and sent, or InvalidAddressError (nothing is guessed or repaired)."""
    if not isinstance(address, str) or not address or len(address) > 100 or address != address.strip():
        raise InvalidAddressError(f"{address!r} is not a {network.name} address.")
    if network.address_kind == Network.AddressKind.ETHEREUM:
        if not is_checksum_address(address):
            raise InvalidAddressError(
                f"{address!r} is not an EIP-55 checksummed {network.name} address (check every character)."
            )
        return address
    return _bitcoin_normalize(kind=network.address_kind, address=address, name=network.name)


def _bitcoin_normalize(*, kind: str, address: str, name: str) -> str:
    hrp = _BECH32_HRP[kind]
    if address.lower().startswith(hrp + "1"):
        try:
            bech32m.decode(hrp, address)
        except bech32m.DecodeError:
            raise InvalidAddressError(f"{address!r} is not a valid {name} segwit address.") from None
        return address.lower()
    try:
        payload = base58.b58decode_check(address)
    except ValueError:
        raise InvalidAddressError(f"{address!r} is not a valid {name} address (checksum).") from None
    if len(payload) != 21 or payload[0] not in _BASE58_VERSIONS[kind]:
        raise InvalidAddressError(f"{address!r} is not a {name} address.")
    return address
