"""Exact price and fee arithmetic between minor units and `price_e8` prices: pure functions,
no reads or writes (the brokerage's counterpart of ledger/money.py).

Vocabulary (one rule for internal names): a *price* (`price_e8`) is settlement-currency units per
whole unit of a currency × 10**8; a *notional* is an amount in settlement-currency minor units;
*settlement* names the currency every price is quoted in (settings.SETTLEMENT_CURRENCY, USD).
Public API fields keep their `usd_` names (`usd_amount`, `usd_value`).

Every function takes the rounding direction as an argument, and callers choose it so the
fraction of a minor unit goes to the platform: what a user pays rounds up (ROUND_CEILING), what a
user receives rounds down (ROUND_FLOOR). Division happens in Decimal with a context wide enough
that only the final step to an integer rounds, and it rounds in the same direction.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from broker.errors import InvalidPriceError
from broker.models import PRICE_SCALE
from ledger.errors import InvalidAmountError
from ledger.money import from_minor_units, to_minor_units

# Operands are at most ~10**19 * 10**19 * 10**18; 80 digits keeps every quotient's integer part
# exact and the context rounds any remaining digits in the caller's direction.
_PRECISION = 80

BPS_DENOMINATOR = 10_000

__all__ = [
    "ROUND_CEILING",
    "ROUND_FLOOR",
    "cross_rate_render",
    "divide",
    "fee_for_notional",
    "notional_for_quantity",
    "price_parse",
    "price_render",
    "price_with_slippage",
    "quantity_for_notional",
]


def divide(numerator: int, denominator: int, *, rounding: str) -> int:
    """numerator / denominator as an integer, rounded in `rounding` (ROUND_CEILING or ROUND_FLOOR)."""
    context = Context(prec=_PRECISION, rounding=rounding)
    quotient = context.divide(Decimal(numerator), Decimal(denominator))
    return int(quotient.to_integral_value(rounding=rounding, context=context))


def notional_for_quantity(
    *, quantity: int, quantity_scale: int, price_e8: int, settlement_scale: int, rounding: str
) -> int:
    """Settlement minor units for `quantity` minor units of a currency at `price_e8`."""
    return divide(
        quantity * price_e8 * 10**settlement_scale,
        10 ** (quantity_scale + PRICE_SCALE),
        rounding=rounding,
    )


def quantity_for_notional(
    *, notional: int, quantity_scale: int, price_e8: int, settlement_scale: int, rounding: str
) -> int:
    """Minor units of a currency that `notional` settlement minor units buy at `price_e8`."""
    return divide(
        notional * 10 ** (quantity_scale + PRICE_SCALE),
        price_e8 * 10**settlement_scale,
        rounding=rounding,
    )


def fee_for_notional(*, notional: int, fee_bps: int) -> int:
    """The one fee rule: `fee_bps` basis points of `notional`, rounded UP to a whole minor unit
    (fractions of a cent are always in the platform's favour). Quotes, orders and conversions
    all compute their fee here."""
    if notional <= 0 or fee_bps <= 0:
        return 0
    return divide(notional * fee_bps, BPS_DENOMINATOR, rounding=ROUND_CEILING)


def price_with_slippage(*, price_e8: int, slippage_bps: int, upward: bool) -> int:
    """The worst price a market order accepts: up for buys (rounded up), down for sells (rounded down)."""
    if upward:
        return divide(price_e8 * (BPS_DENOMINATOR + slippage_bps), BPS_DENOMINATOR, rounding=ROUND_CEILING)
    return divide(price_e8 * (BPS_DENOMINATOR - slippage_bps), BPS_DENOMINATOR, rounding=ROUND_FLOOR)


def cross_rate_render(*, from_price_e8: int, to_price_e8: int) -> str:
    """Units of the target per unit of the source, for display: 18 significant digits, rounded down.

    Both prices are price_e8, so their scales cancel. A conversion's booked amount is computed
    directly from the prices, never from this rounded figure.
    """
    context = Context(prec=18, rounding=ROUND_FLOOR)
    rate = context.divide(Decimal(from_price_e8), Decimal(to_price_e8))
    return format(rate.normalize(context), "f") if rate else "0"


def price_parse(value: str | int | Decimal) -> int:
    """A positive decimal price with at most 8 places as `price_e8`; InvalidPriceError otherwise."""
    try:
        return to_minor_units(value, scale=PRICE_SCALE)
    except InvalidAmountError as error:
        raise InvalidPriceError(str(error).replace("Amount", "Price")) from None


def price_render(price_e8: int | None) -> str | None:
    return None if price_e8 is None else from_minor_units(price_e8, scale=PRICE_SCALE)
