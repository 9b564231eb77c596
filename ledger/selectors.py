"""Ledger reads. Tenant-facing selectors take the client; these helpers are for services."""

from django.conf import settings

from ledger.models import CurrencyAuthorization


def user_is_authorized(*, user_id: int, currency_code: str) -> bool:
    """True when the user may transact the currency (the settlement currency always)."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return True
    return CurrencyAuthorization.objects.filter(user_id=user_id, currency_id=currency_code).exists()
