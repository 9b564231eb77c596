"""Checks every trade shares: the user may trade, the currency is tradable, a rate exists."""

from django.conf import settings

from accounts.models import User
from broker.errors import CurrencyNotTradableError, InvalidOrderError
from broker.models import Side
from broker.services.currencies import currency_check_offered_and_authorized
from ledger.models import Currency
from ledger.money import minor_units_check


def trade_check_currency(*, user: User, currency: Currency) -> int | None:
    """A non-settlement, active currency the user may transact. Returns its current price_e8
    (None without a rate), read in the same statement as the checks.

    Raises CurrencyNotTradableError, CurrencyNotOfferedError, CurrencyNotAuthorizedError.
    """
    if currency.code == settings.SETTLEMENT_CURRENCY or not currency.is_active:
        raise CurrencyNotTradableError(f"{currency.code} cannot be traded against {settings.SETTLEMENT_CURRENCY}.")
    return currency_check_offered_and_authorized(user=user, currency=currency)


def trade_check_side(*, side: str) -> None:
    if side not in Side.values:
        raise InvalidOrderError(f"side must be one of {', '.join(Side.values)}.")


def trade_check_size(*, quantity: int | None, usd_amount: int | None) -> None:
    """Exactly one of quantity / usd_amount, a positive integer of minor units."""
    if (quantity is None) == (usd_amount is None):
        raise InvalidOrderError("Give exactly one of quantity or usd_amount.")
    value = quantity if quantity is not None else usd_amount
    minor_units_check(value)
