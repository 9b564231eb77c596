"""Brokerage reads. Tenant-facing selectors take the caller and scope with `scope_to_caller`.

Prices in the settlement currency are read here and nowhere else: `settlement_prices` /
`settlement_price_find` / `settlement_price_get` for the price of a currency (and
`settlement_price_subquery` to read it with another row), `settlement_value`
for what an amount of it is worth. Vocabulary as in broker/pricing.py: a *price* (`price_e8`) is
settlement units per whole unit × 10**8, a *notional* or *value* is in settlement minor units;
the settlement currency itself is `ledger.selectors.settlement_currency()`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery

from accounts.callers import Caller, scope_to_caller
from accounts.models import User
from broker.errors import RateUnavailableError
from broker.models import PRICE_SCALE, Conversion, OfferedCurrency, Order, Quote, Rate, RateHistory, Side
from broker.pricing import ROUND_FLOOR, notional_for_quantity
from core.compiled import CompiledQuery
from ledger.models import Account, Currency, CurrencyAuthorization
from ledger.selectors import settlement_currency


def settlement_prices(*, currency_codes: Iterable[str]) -> dict[str, int]:
    """The current price_e8 of each currency that has one (the settlement currency is 10**8)."""
    codes = set(currency_codes)
    prices = dict(
        Rate.objects.filter(currency_id__in=codes, quote_currency_id=settings.SETTLEMENT_CURRENCY).values_list(
            "currency_id", "price_e8"
        )
    )
    if settings.SETTLEMENT_CURRENCY in codes:
        prices[settings.SETTLEMENT_CURRENCY] = 10**PRICE_SCALE
    return prices


def settlement_price_subquery(*, currency_field: str) -> Subquery:
    """The current price_e8 of the currency named by `currency_field` of the outer row (NULL
    without a rate), to read a price in the same statement as the row that needs it. The
    settlement currency itself has no rate row: callers never ask it for its own price."""
    rates = Rate.objects.filter(currency_id=OuterRef(currency_field), quote_currency_id=settings.SETTLEMENT_CURRENCY)
    return Subquery(rates.values("price_e8")[:1])


def settlement_price_find(*, currency_code: str) -> int | None:
    """The current price_e8 of `currency_code`, or None when no rate is known."""
    return settlement_prices(currency_codes=[currency_code]).get(currency_code)


def settlement_price_get(*, currency_code: str) -> int:
    """The current price_e8 of `currency_code`. Raises RateUnavailableError without a rate."""
    price_e8 = settlement_price_find(currency_code=currency_code)
    if price_e8 is None:
        raise RateUnavailableError(f"There is no rate for {currency_code}.")
    return price_e8


def settlement_value(*, currency_code: str, amount: int) -> int | None:
    """`amount` (minor units of `currency_code`) in settlement minor units at the current price,
    rounded down: a threshold is crossed, or a holding is worth, only the value actually there.
    None when no rate is known."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return amount
    # Read for every movement compliance values (each fill): compiled once per process (core.compiled).
    found = _RATE_WITH_CURRENCY.fetch(currency_code=currency_code, settlement_code=settings.SETTLEMENT_CURRENCY)
    if not found:
        return None
    rate = found[0]
    return notional_for_quantity(
        quantity=amount, quantity_scale=rate.currency.scale, price_e8=rate.price_e8,
        settlement_scale=settlement_currency().scale, rounding=ROUND_FLOOR,
    )


def _rate_with_currency(shape: None, *, currency_code: str, settlement_code: str) -> QuerySet[Rate]:
    rates = Rate.objects.filter(currency_id=currency_code, quote_currency_id=settlement_code)
    return rates.select_related("currency")[:1]


_RATE_WITH_CURRENCY = CompiledQuery(_rate_with_currency)


def currency_is_offered(*, client_id: int, currency_code: str) -> bool:
    """No offering rows for a client means it offers every active currency; USD always."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return True
    offered = OfferedCurrency.objects.filter(client_id=client_id)
    return not offered.exists() or offered.filter(currency_id=currency_code).exists()


@dataclass(frozen=True)
class CurrencyTradingFacts:
    """What a trade in a currency checks, read together (`currency_trading_facts`)."""

    is_offered: bool
    is_authorized: bool
    price_e8: int | None


def currency_trading_facts(*, user: User, currency_code: str) -> CurrencyTradingFacts:
    """Whether the user's client offers `currency_code`, whether the user is authorized for it (by
    the rules of `currency_is_offered` and `ledger.selectors.user_is_authorized`), and its current
    price (`settlement_price_find`): the reads every trade starts with, in one statement."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return CurrencyTradingFacts(is_offered=True, is_authorized=True, price_e8=10**PRICE_SCALE)
    # Run on every trade: compiled once per process (core.compiled).
    found = _CURRENCY_TRADING_FACTS.fetch(client_id=user.client_id, user_id=user.pk, currency_code=currency_code)
    if not found:
        return CurrencyTradingFacts(is_offered=False, is_authorized=False, price_e8=None)
    facts = found[0]
    return CurrencyTradingFacts(
        is_offered=bool(facts.is_offered),  # the query's annotations
        is_authorized=bool(facts.is_authorized),
        price_e8=facts.price_e8,
    )


def _currency_trading_facts(shape: None, *, client_id: int, user_id: int, currency_code: str) -> QuerySet[Currency]:
    offerings = OfferedCurrency.objects.filter(client_id=client_id)
    return Currency.objects.filter(code=currency_code).annotate(
        is_offered=ExpressionWrapper(
            ~Exists(offerings) | Exists(offerings.filter(currency_id=currency_code)), output_field=BooleanField()
        ),
        is_authorized=Exists(CurrencyAuthorization.objects.filter(user_id=user_id, currency_id=currency_code)),
        price_e8=settlement_price_subquery(currency_field="code"),
    )


_CURRENCY_TRADING_FACTS = CompiledQuery(_currency_trading_facts)


def user_currency_list(*, user: User) -> QuerySet[Currency]:
    """Currencies `user` may transact: authorized (USD always) and offered by the client, active."""
    authorized = CurrencyAuthorization.objects.filter(user=user).values("currency_id")
    currencies = Currency.objects.filter(is_active=True).filter(
        Q(code=settings.SETTLEMENT_CURRENCY) | Q(code__in=authorized)
    )
    offered = OfferedCurrency.objects.filter(client_id=user.client_id)
    if offered.exists():
        currencies = currencies.filter(Q(code=settings.SETTLEMENT_CURRENCY) | Q(code__in=offered.values("currency_id")))
    return currencies.order_by("code")


def currency_list() -> QuerySet[Currency]:
    """Active currencies with their rate (one query)."""
    return Currency.objects.filter(is_active=True).select_related("rate").order_by("code")


def rate_list() -> QuerySet[Rate]:
    return Rate.objects.filter(currency__is_active=True).order_by("currency_id")


def rate_history_list(*, currency_code: str) -> QuerySet[RateHistory]:
    return RateHistory.objects.filter(currency_id=currency_code)


def order_list(*, caller: Caller) -> QuerySet[Order]:
    orders = scope_to_caller(Order.objects.all(), caller)
    if caller.is_end_user:
        orders = orders.filter(user=caller.user)
    return orders


def quote_list(*, caller: Caller) -> QuerySet[Quote]:
    quotes = scope_to_caller(Quote.objects.all(), caller)
    if caller.is_end_user:
        quotes = quotes.filter(user=caller.user)
    return quotes


@dataclass(frozen=True)
class Position:
    """A user's holding in one currency, valued in USD (minor units; prices as price_e8)."""

    currency: Currency
    quantity: int
    available: int
    average_cost_e8: int | None
    cost_basis: int | None
    price_e8: int | None
    market_value: int | None
    unrealized_pnl: int | None


def position_list(*, user: User) -> list[Position]:
    """The user's non-USD holdings with average cost, market value and unrealized P&L.

    Cost method: weighted average cost over the user's fills and conversions, in time order. A
    buy (or a conversion into the currency) adds its quantity and its USD cost including the fee;
    a sale (or a conversion out) removes quantity at the current average, leaving the average
    unchanged. Holdings that arrived without a trade (deposits, transfers) carry the average of
    the traded units; with no trades the average, cost basis and P&L are null. Arithmetic is on
    exact fractions; figures are rounded half-to-even only when turned into minor units (they are
    reports, not money movements). Market value is the quantity at the current rate, rounded down.
    """
    usd = settlement_currency()
    events: list[tuple] = []
    for order in Order.objects.filter(user=user, status=Order.Status.FILLED).values_list(
        "filled_at", "pk", "currency_id", "side", "fill_quantity", "fill_usd_amount", "fee"
    ):
        filled_at, pk, code, side, quantity, notional, fee = order
        sign = 1 if side == Side.BUY else -1
        events.append((filled_at, 0, pk, code, sign * quantity, notional + fee))
    for conversion in Conversion.objects.filter(user=user).values_list(
        "created_at", "pk", "from_currency_id", "to_currency_id", "from_amount", "to_amount", "usd_value", "fee"
    ):
        created_at, pk, from_code, to_code, from_amount, to_amount, usd_value, fee = conversion
        events.append((created_at, 1, pk, from_code, -from_amount, 0))
        events.append((created_at, 1, pk, to_code, to_amount, usd_value + fee))
    tracked: dict[str, tuple[int, Fraction]] = {}
    for _, _, _, code, quantity, cost in sorted(events, key=lambda event: event[:3]):
        held, total_cost = tracked.get(code, (0, Fraction(0)))
        if quantity > 0:
            tracked[code] = (held + quantity, total_cost + cost)
        elif held > 0:
            removed = min(-quantity, held)
            tracked[code] = (held - removed, total_cost * (held - removed) / held)

    accounts = list(
        Account.objects.filter(user=user).exclude(currency_id=usd.code).select_related("currency").order_by("currency_id")
    )
    prices = settlement_prices(currency_codes=[account.currency_id for account in accounts])
    positions = []
    for account in accounts:
        currency = account.currency
        # Minor units of USD per minor unit of the currency → USD per whole unit × 10**8.
        units = Fraction(10 ** (currency.scale + PRICE_SCALE), 10**usd.scale)
        held, total_cost = tracked.get(currency.code, (0, Fraction(0)))
        average = total_cost / held if held else None
        price_e8 = prices.get(currency.code)
        market_value = None
        if price_e8 is not None:
            market_value = notional_for_quantity(
                quantity=account.balance, quantity_scale=currency.scale, price_e8=price_e8,
                settlement_scale=usd.scale, rounding=ROUND_FLOOR,
            )
        cost_basis = None if average is None else round(average * account.balance)
        positions.append(
            Position(
                currency=currency,
                quantity=account.balance,
                available=account.available,
                average_cost_e8=None if average is None else round(average * units),
                cost_basis=cost_basis,
                price_e8=price_e8,
                market_value=market_value,
                unrealized_pnl=None if cost_basis is None or market_value is None else market_value - cost_basis,
            )
        )
    return positions


def conversion_list(*, caller: Caller) -> QuerySet[Conversion]:
    conversions = scope_to_caller(Conversion.objects.all(), caller)
    if caller.is_end_user:
        conversions = conversions.filter(user=caller.user)
    return conversions
