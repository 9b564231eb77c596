"""Brokerage reads. Tenant-facing selectors take the caller and scope with `scope_to_caller`."""

from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.callers import Caller, scope_to_caller
from accounts.models import User
from broker.models import PRICE_SCALE, Conversion, OfferedCurrency, Order, Quote, Rate, RateHistory, Side
from broker.services.pricing import ROUND_FLOOR, notional_for_quantity
from ledger.models import Account, Currency, CurrencyAuthorization


def currency_is_offered(*, client_id: int, currency_code: str) -> bool:
    """No offering rows for a client means it offers every active currency; USD always."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return True
    offered = OfferedCurrency.objects.filter(client_id=client_id)
    return not offered.exists() or offered.filter(currency_id=currency_code).exists()


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


def rate_list() -> QuerySet[Rate]:
    return Rate.objects.filter(currency__is_active=True).order_by("currency_id")


def rate_history_list(*, currency_code: str) -> QuerySet[RateHistory]:
    return RateHistory.objects.filter(currency_id=currency_code)


def end_user_list(*, caller: Caller) -> QuerySet[User]:
    """End users the caller may act for: its client's, or only itself for an end-user token."""
    users = scope_to_caller(User.objects.filter(kind=User.Kind.END_USER), caller)
    if caller.is_end_user:
        users = users.filter(pk=caller.user.pk)
    return users


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
    usd = Currency.objects.get(pk=settings.SETTLEMENT_CURRENCY)
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

    prices = dict(Rate.objects.values_list("currency_id", "price_e8"))
    positions = []
    accounts = Account.objects.filter(user=user).exclude(currency_id=usd.code).select_related("currency")
    for account in accounts.order_by("currency_id"):
        currency = account.currency
        # Minor units of USD per minor unit of the currency → USD per whole unit × 10**8.
        units = Fraction(10 ** (currency.scale + PRICE_SCALE), 10**usd.scale)
        held, total_cost = tracked.get(currency.code, (0, Fraction(0)))
        average = total_cost / held if held else None
        price_e8 = prices.get(currency.code)
        market_value = None
        if price_e8 is not None:
            market_value = notional_for_quantity(
                quantity=account.balance, quantity_scale=currency.scale, price_e8=price_e8, usd_scale=usd.scale,
                rounding=ROUND_FLOOR,
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
