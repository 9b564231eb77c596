"""Valuing an amount in the settlement currency, for compliance thresholds and the dashboard."""

from django.conf import settings

from broker.models import Rate
from broker.services.pricing import ROUND_FLOOR, notional_for_quantity
from ledger.models import Currency


def settlement_value(*, currency_code: str, amount: int) -> int | None:
    """`amount` (minor units of `currency_code`) in settlement-currency minor units, or None.

    Valued at the broker's current rate, rounded down (a threshold is crossed only by value
    actually there). None when no rate is known: callers then use per-currency thresholds.
    """
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return amount
    row = (
        Rate.objects.filter(currency_id=currency_code, quote_currency_id=settings.SETTLEMENT_CURRENCY)
        .values_list("price_e8", "currency__scale")
        .first()
    )
    if row is None:
        return None
    price_e8, scale = row
    settlement_scale = Currency.objects.values_list("scale", flat=True).get(code=settings.SETTLEMENT_CURRENCY)
    return notional_for_quantity(
        quantity=amount, quantity_scale=scale, price_e8=price_e8, usd_scale=settlement_scale, rounding=ROUND_FLOOR
    )
