"""The figures of one trade and the journal legs that book it, shared by quotes, orders and
conversions so they can never disagree.

Rounding (always in the platform's favour, see `pricing` and `fees`): a buyer pays the notional
rounded up and receives a quantity rounded down; a seller receives a notional rounded down and
gives a quantity rounded up. The fee is charged in USD on top of a buy and out of a sale.
"""

from dataclasses import dataclass

from broker.errors import InvalidOrderError, QuantityTooSmallError
from broker.models import Side
from broker.pricing import ROUND_CEILING, ROUND_FLOOR, fee_for_notional, notional_for_quantity, quantity_for_notional
from ledger.models import Account, Currency
from ledger.money import minor_units_bound
from ledger.services import Leg


@dataclass(frozen=True)
class TradeTerms:
    quantity: int  # minor units of the traded currency
    price_e8: int
    notional: int  # USD minor units
    fee: int  # USD minor units
    side: str

    @property
    def total(self) -> int:
        """USD the user pays (buy) or receives (sell)."""
        return self.notional + self.fee if self.side == Side.BUY else self.notional - self.fee


def trade_terms(
    *,
    side: str,
    currency: Currency,
    usd: Currency,
    price_e8: int,
    fee_bps: int,
    quantity: int | None = None,
    usd_amount: int | None = None,
) -> TradeTerms:
    """Figures for a trade sized by exactly one of `quantity` or `usd_amount` at `price_e8`.

    Raises QuantityTooSmallError when the trade would move nothing (zero quantity, or a sale whose
    proceeds do not exceed its fee), InvalidAmountError when a figure does not fit in 64 bits.
    """
    scales = {"quantity_scale": currency.scale, "price_e8": price_e8, "settlement_scale": usd.scale}
    buying = side == Side.BUY
    if quantity is not None:
        notional = notional_for_quantity(quantity=quantity, rounding=ROUND_CEILING if buying else ROUND_FLOOR, **scales)
    else:
        if usd_amount is None:
            raise InvalidOrderError("Give exactly one of quantity or usd_amount.")
        notional = usd_amount
        quantity = quantity_for_notional(
            notional=usd_amount, rounding=ROUND_FLOOR if buying else ROUND_CEILING, **scales
        )
    # A computed figure can outgrow the 64-bit columns (a huge usd_amount of a cheap coin): refused
    # as invalid_amount, like an amount that large in the request would be.
    minor_units_bound(quantity, what="The quantity")
    minor_units_bound(notional, what="The USD amount")
    fee = fee_for_notional(notional=notional, fee_bps=fee_bps)
    minor_units_bound(notional + fee, what="The total")
    terms = TradeTerms(quantity=quantity, price_e8=price_e8, notional=notional, fee=fee, side=side)
    if terms.quantity <= 0 or terms.notional <= 0 or terms.total <= 0:
        raise QuantityTooSmallError("The amount is too small to trade at this price after fees.")
    return terms


def trade_legs(
    *,
    terms: TradeTerms,
    user_usd: Account,
    user_currency: Account,
    inventory_usd: Account,
    inventory_currency: Account,
    fee_revenue: Account,
) -> list[Leg]:
    """The balanced legs of a fill: USD against inventory, the currency against inventory, the fee
    to fee revenue. Inventory accounts may go negative (the broker's position); users never do."""
    if terms.side == Side.BUY:
        legs = [
            Leg(user_usd, -terms.total),
            Leg(inventory_usd, terms.notional),
            Leg(inventory_currency, -terms.quantity),
            Leg(user_currency, terms.quantity),
        ]
    else:
        legs = [
            Leg(user_currency, -terms.quantity),
            Leg(inventory_currency, terms.quantity),
            Leg(inventory_usd, -terms.notional),
            Leg(user_usd, terms.total),
        ]
    if terms.fee:
        legs.append(Leg(fee_revenue, terms.fee))
    return legs
