"""Fees: the one rounding rule.

A trade's fee is the client's `fee_bps` of the USD notional, in USD minor units, rounded UP to
the next cent: fractions of a cent are always in the platform's favour. Quotes, orders and
conversions all compute their fee here.
"""

from broker.services.pricing import BPS_DENOMINATOR, ROUND_CEILING, divide


def fee_for_notional(*, notional: int, fee_bps: int) -> int:
    """`fee_bps` basis points of `notional` (USD minor units), rounded up to a whole minor unit."""
    if notional <= 0 or fee_bps <= 0:
        return 0
    return divide(notional * fee_bps, BPS_DENOMINATOR, rounding=ROUND_CEILING)
