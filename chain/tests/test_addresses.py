"""Addresses are checked with each network's real rules: a typo is refused, never sent to."""

import pytest

from chain.addresses import address_normalize
from chain.errors import InvalidAddressError
from chain.models import Network

ETHEREUM = Network(code="ethereum", name="Ethereum", address_kind=Network.AddressKind.ETHEREUM)
BITCOIN = Network(code="bitcoin", name="Bitcoin", address_kind=Network.AddressKind.BITCOIN)
TESTNET = Network(code="bitcoin-testnet", name="Bitcoin testnet", address_kind=Network.AddressKind.BITCOIN_TESTNET)


@pytest.mark.parametrize("address", [
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",  # P2PKH
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # P2SH
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # segwit v0, bech32
    "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",  # taproot, bech32m
])
def test_valid_bitcoin_addresses_are_accepted(address):
    assert address_normalize(network=BITCOIN, address=address) == address


def test_an_uppercase_bech32_address_is_stored_lowercase():
    upper = "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"
    assert address_normalize(network=BITCOIN, address=upper) == upper.lower()


@pytest.mark.parametrize("address", [
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  # base58check checksum broken by one character
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr",  # bech32 checksum broken
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # v0 program with a bech32m checksum (BIP-350)
    "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",  # testnet address on mainnet
    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",  # testnet P2PKH on mainnet
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # another network's address
    "",
    " 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
])
def test_invalid_bitcoin_addresses_are_refused(address):
    with pytest.raises(InvalidAddressError) as caught:
        address_normalize(network=BITCOIN, address=address)
    assert caught.value.code == "invalid_address"


def test_testnet_addresses_belong_to_the_testnet_network():
    assert address_normalize(network=TESTNET, address="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")
    assert address_normalize(network=TESTNET, address="mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn")


def test_an_eip55_checksummed_address_is_accepted():
    assert address_normalize(network=ETHEREUM, address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")


@pytest.mark.parametrize("address", [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # one letter's case changed: checksum fails
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # no checksum to check a typo against
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA",  # too short
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
])
def test_ethereum_addresses_without_a_valid_checksum_are_refused(address):
    with pytest.raises(InvalidAddressError):
        address_normalize(network=ETHEREUM, address=address)
