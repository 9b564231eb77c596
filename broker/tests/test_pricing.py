from decimal import Decimal

import pytest

from broker.errors import InvalidPriceError
from broker.pricing import (
    ROUND_CEILING,
    ROUND_FLOOR,
    fee_for_notional,
    notional_for_quantity,
    price_parse,
    price_render,
    price_with_slippage,
    quantity_for_notional,
)


def test_fee_rounds_fractions_of_a_cent_up():
    # 50 bps of 1.01 USD is 0.505 cents: the platform charges 1 cent.
    assert fee_for_notional(notional=101, fee_bps=50) == 1
    assert fee_for_notional(notional=60_000, fee_bps=50) == 300
    assert fee_for_notional(notional=60_001, fee_bps=50) == 301
    assert fee_for_notional(notional=100, fee_bps=0) == 0


def test_notional_rounds_in_the_direction_asked():
    # 1 satoshi at 60,000.00 USD/BTC is 0.06 cents.
    args = {"quantity": 1, "quantity_scale": 8, "price_e8": 60_000 * 10**8, "settlement_scale": 2}
    assert notional_for_quantity(**args, rounding=ROUND_CEILING) == 1
    assert notional_for_quantity(**args, rounding=ROUND_FLOOR) == 0


def test_quantity_for_notional_is_exact_when_it_divides():
    args = {"notional": 60_000, "quantity_scale": 8, "price_e8": 60_000 * 10**8, "settlement_scale": 2}
    assert quantity_for_notional(**args, rounding=ROUND_FLOOR) == 1_000_000
    assert quantity_for_notional(**{**args, "notional": 1}, rounding=ROUND_FLOOR) == 16
    assert quantity_for_notional(**{**args, "notional": 1}, rounding=ROUND_CEILING) == 17


def test_huge_values_stay_exact():
    big = 9_000_000_000_000_000_000
    assert notional_for_quantity(
        quantity=big, quantity_scale=18, price_e8=big, settlement_scale=2, rounding=ROUND_FLOOR
    ) == big * big * 100 // 10**26


def test_slippage_moves_the_price_against_the_user():
    assert price_with_slippage(price_e8=100, slippage_bps=200, upward=True) == 102
    assert price_with_slippage(price_e8=101, slippage_bps=200, upward=False) == 98


@pytest.mark.parametrize("text", ["-1", "0", "1.123456789", "abc", "1e5", "NaN"])
def test_bad_prices_are_refused(text):
    with pytest.raises(InvalidPriceError):
        price_parse(text)


def test_prices_parse_and_render_exactly():
    assert price_parse("65000.12") == 6_500_012_000_000
    assert price_parse(Decimal("0.00000001")) == 1
    assert price_render(6_500_012_000_000) == "65000.12000000"
