"""Rates: stored locally and trusted. Every change is kept in RateHistory and makes resting
limit and stop orders in that currency be evaluated (after commit)."""

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from broker.errors import InvalidPriceError, SettlementCurrencyError
from broker.models import Rate, RateHistory
from broker.pricing import price_parse, price_render
from broker.services.scheduling import orders_evaluation_schedule
from ledger.models import Currency
from ledger.money import is_minor_units
from ledger.selectors import currency_get


def rate_update(
    *,
    currency: Currency | str,
    price_e8: int,
    changed_by: User | None = None,
    source: str = RateHistory.Source.API,
) -> Rate:
    """Set the USD price of `currency` (price_e8 = USD per whole unit × 10**8).

    Invariants: the rate row, its history row and the audit event are written in one
    transaction; an unchanged price writes nothing. Locks: the rate row. After commit, resting
    orders in the currency are evaluated by the worker.
    Raises UnknownCurrencyError, SettlementCurrencyError, InvalidPriceError.
    """
    if not isinstance(currency, Currency):
        currency = currency_get(code=currency)
    if currency.code == settings.SETTLEMENT_CURRENCY:
        raise SettlementCurrencyError(f"{currency.code} is the settlement currency; its price is always 1.")
    if not is_minor_units(price_e8):
        raise InvalidPriceError("Price must be positive.")
    now = timezone.now()
    with transaction.atomic():
        rate = Rate.objects.select_for_update().filter(currency=currency).first()
        before = rate.price_e8 if rate is not None else None
        created = False
        if rate is None:
            try:
                with transaction.atomic():
                    rate = Rate.objects.create(
                        currency=currency,
                        quote_currency_id=settings.SETTLEMENT_CURRENCY,
                        price_e8=price_e8,
                        updated_at=now,
                    )
                created = True
            except IntegrityError:
                # Another writer created it first: update theirs under the lock.
                rate = Rate.objects.select_for_update().get(currency=currency)
                before = rate.price_e8
        if not created:
            if rate.price_e8 == price_e8:
                return rate
            rate.price_e8 = price_e8
            rate.updated_at = now
            rate.save(update_fields=["price_e8", "updated_at"])
        RateHistory.objects.create(
            currency=currency,
            quote_currency_id=settings.SETTLEMENT_CURRENCY,
            price_e8=price_e8,
            changed_at=now,
            changed_by=changed_by,
            source=source,
        )
        audit_record(
            actor=changed_by, action="broker.rate_update", obj=rate,
            before={"price": price_render(before)}, after={"price": price_render(price_e8), "source": source},
        )
        orders_evaluation_schedule(currency_code=currency.code)
    return rate


def rates_load(
    *,
    prices: Iterable[tuple[str, str | Decimal | int]],
    changed_by: User | None = None,
    source: str = RateHistory.Source.FILE,
) -> list[Rate]:
    """Set many rates at once: every price is parsed first, then all are written or none.

    Raises UnknownCurrencyError, SettlementCurrencyError, InvalidPriceError (naming the currency).
    """
    parsed: list[tuple[Currency, int]] = []
    for code, price in prices:
        currency = currency_get(code=code)
        try:
            parsed.append((currency, price_parse(price)))
        except InvalidPriceError as error:
            raise InvalidPriceError(f"{currency.code}: {error.detail}") from None
    with transaction.atomic():
        return [
            rate_update(currency=currency, price_e8=price_e8, changed_by=changed_by, source=source)
            for currency, price_e8 in parsed
        ]
