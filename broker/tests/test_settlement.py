"""The settlement currency, its prices and values are read one way."""

import pytest

from broker.errors import RateUnavailableError
from broker.selectors import settlement_price_find, settlement_price_get, settlement_prices, settlement_value
from ledger.errors import InvalidAmountError
from ledger.money import is_minor_units, minor_units_check
from ledger.selectors import settlement_currency


def test_the_settlement_currency_is_usd_with_two_places(db):
    assert (settlement_currency().code, settlement_currency().scale) == ("USD", 2)


def test_prices_in_the_settlement_currency(rates):
    assert settlement_price_get(currency_code="BTC") == 60_000 * 10**8
    assert settlement_price_get(currency_code="USD") == 10**8
    assert settlement_prices(currency_codes=["BTC", "ETH", "DOGE"]) == {"BTC": 60_000 * 10**8, "ETH": 3_000 * 10**8}
    assert settlement_price_find(currency_code="DOGE") is None
    with pytest.raises(RateUnavailableError):
        settlement_price_get(currency_code="DOGE")


def test_values_in_the_settlement_currency_round_down(rates):
    # 0.00000001 BTC at 60,000.00 is 0.0006 USD: worth 0.00, never rounded up to a cent
    assert settlement_value(currency_code="BTC", amount=1) == 0
    assert settlement_value(currency_code="BTC", amount=50_000_000) == 3_000_000
    assert settlement_value(currency_code="USD", amount=1_234) == 1_234
    assert settlement_value(currency_code="DOGE", amount=1) is None


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1", None, 2**63])
def test_the_minor_units_guard_refuses_what_is_not_a_positive_64_bit_int(value):
    assert not is_minor_units(value)
    with pytest.raises(InvalidAmountError):
        minor_units_check(value)


def test_the_signed_guard_accepts_either_sign_but_not_zero():
    assert is_minor_units(-5, signed=True) and is_minor_units(2**63 - 1, signed=True)
    assert not is_minor_units(0, signed=True) and not is_minor_units(-(2**63), signed=True)
