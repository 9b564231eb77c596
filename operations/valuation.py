"""Valuing an amount in the settlement currency, for compliance thresholds and the dashboard."""

from django.conf import settings


def settlement_value(*, currency_code: str, amount: int) -> int | None:
    """`amount` (minor units of `currency_code`) in settlement-currency minor units, or None.

    None when the broker knows no rate for the currency: callers then fall back to thresholds
    in the currency's own units.
    """
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return amount
    return None
