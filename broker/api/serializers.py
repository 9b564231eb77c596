"""Parse and render the brokerage API. Amounts are strings in their currency's scale, prices are
strings with 8 decimal places (USD per whole unit); both are exact on the way in (400
`invalid_amount` / `invalid_price` for anything else)."""

from decimal import Decimal
from functools import cache

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from accounts.selectors import user_with_client_find
from broker.errors import InvalidPriceError
from broker.models import Conversion, Order, Quote, Rate, RateHistory, Side
from broker.pricing import cross_rate_render, price_parse, price_render
from broker.selectors import quote_list
from broker.services import OrderRequest
from core.api.fields import ScopedIdField
from ledger.api.fields import AmountField, AmountsMixin
from ledger.api.serializers import CurrencyCodeField
from ledger.errors import InvalidAmountError
from ledger.models import Currency
from ledger.money import from_minor_units, to_minor_units
from ledger.selectors import settlement_currency

PRICE_PATTERN = r"^[0-9]+(\.[0-9]{1,8})?$"


@extend_schema_field({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "10.50"})
class UsdAmountField(AmountField):
    """An amount in the settlement currency (USD minor units), rendered with its scale."""

    def get_attribute(self, instance):
        minor = serializers.Field.get_attribute(self, instance)
        return None if minor is None else (minor, settlement_currency().scale)


@extend_schema_field(
    {"type": "string", "pattern": PRICE_PATTERN, "example": "65000.00", "description": "USD per whole unit."}
)
class PriceField(serializers.Field):
    """A price in USD per whole unit: in, a decimal string (or exact JSON number) with at most 8
    places; out, a string with exactly 8. Stored as `*_price_e8` integers."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            message = 'A price is a decimal string such as "65000.00".'
            raise ValidationError(ErrorDetail(message, code="invalid_price"))
        try:
            return price_parse(data)
        except InvalidPriceError as error:
            raise ValidationError(ErrorDetail(error.detail, code="invalid_price")) from None

    def to_representation(self, value):
        return price_render(value)


def _usd_minor(serializer_field: str, value) -> int:
    try:
        return to_minor_units(value, scale=settlement_currency().scale)
    except InvalidAmountError as error:
        raise ValidationError({serializer_field: [ErrorDetail(error.detail, code="invalid_amount")]}) from None


def _user_find(caller, pk: int):
    # A trade reads the user's client (its fee) right after: in the same statement.
    return user_with_client_find(caller=caller, user_id=pk)


# ---- currencies and rates ---------------------------------------------------------------


class CurrencySerializer(serializers.ModelSerializer):
    price = PriceField(source="rate.price_e8", read_only=True, allow_null=True, default=None)
    rate_updated_at = serializers.DateTimeField(source="rate.updated_at", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Currency
        fields = ["code", "name", "kind", "scale", "price", "rate_updated_at"]


class UserCurrencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Currency
        fields = ["code", "name", "kind", "scale"]


class UserCurrencyGrantSerializer(serializers.Serializer):
    currency = CurrencyCodeField()


class RateSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id", read_only=True)
    quote_currency = serializers.CharField(source="quote_currency_id", read_only=True)
    price = PriceField(source="price_e8", read_only=True)

    class Meta:
        model = Rate
        fields = ["currency", "quote_currency", "price", "updated_at"]


class RateUpdateSerializer(serializers.Serializer):
    price = PriceField()


class RateHistorySerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id", read_only=True)
    quote_currency = serializers.CharField(source="quote_currency_id", read_only=True)
    price = PriceField(source="price_e8", read_only=True)
    changed_by = serializers.IntegerField(source="changed_by_id", read_only=True, allow_null=True)

    class Meta:
        model = RateHistory
        fields = ["id", "currency", "quote_currency", "price", "changed_at", "changed_by", "source"]


# ---- quotes -------------------------------------------------------------------------------


class _SizedTradeSerializer(AmountsMixin, serializers.Serializer):
    user = ScopedIdField(find=_user_find, not_found="User not found.")
    side = serializers.ChoiceField(choices=Side.choices)
    currency = CurrencyCodeField()
    quantity = AmountField(currency_from="currency", required=False, help_text="In the currency.")
    usd_amount = AmountField(required=False, help_text="In USD (notional, before the fee).")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "usd_amount" in attrs:
            attrs["usd_amount"] = _usd_minor("usd_amount", attrs["usd_amount"])
        return attrs


class QuoteCreateSerializer(_SizedTradeSerializer):
    """A firm price for one trade, sized by exactly one of `quantity` or `usd_amount`."""


class QuoteSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)
    quantity = AmountField(read_only=True)
    price = PriceField(source="price_e8", read_only=True)
    usd_amount = UsdAmountField(read_only=True, help_text="Notional in USD.")
    fee = UsdAmountField(read_only=True, help_text="In USD, rounded up to the cent.")
    total = UsdAmountField(read_only=True, help_text="What the user pays (buy) or receives (sell), in USD.")
    is_used = serializers.SerializerMethodField()

    class Meta:
        model = Quote
        fields = [
            "id", "user", "side", "currency", "quantity", "price", "usd_amount", "fee", "total",
            "expires_at", "is_used", "created_at",
        ]

    def get_is_used(self, quote) -> bool:
        return quote.used_at is not None


# ---- orders -------------------------------------------------------------------------------


class OrderCreateSerializer(_SizedTradeSerializer):
    """An order: `market` (sized by `quantity` or `usd_amount`, or filled at a `quote`), `limit`
    (with `limit_price`) or `stop` (with `stop_price`), both sized by `quantity`."""

    type = serializers.ChoiceField(choices=Order.Type.choices, default=Order.Type.MARKET)
    limit_price = PriceField(required=False)
    stop_price = PriceField(required=False)
    quote = ScopedIdField(
        queryset_for=lambda caller: quote_list(caller=caller), not_found="Quote not found.", required=False
    )
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices, default=Order.TimeInForce.GTC)
    expires_at = serializers.DateTimeField(required=False)
    client_order_id = serializers.CharField(required=False, max_length=100, allow_blank=False)

    def to_request(self) -> OrderRequest:
        data = dict(self.validated_data)
        quote = data.pop("quote", None)
        return OrderRequest(
            quote_id=quote.pk if quote is not None else None,
            limit_price_e8=data.pop("limit_price", None),
            stop_price_e8=data.pop("stop_price", None),
            **data,
        )


class OrderSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)
    quantity = AmountField(read_only=True, allow_null=True)
    usd_amount = UsdAmountField(read_only=True, allow_null=True)
    limit_price = PriceField(source="limit_price_e8", read_only=True, allow_null=True)
    stop_price = PriceField(source="stop_price_e8", read_only=True, allow_null=True)
    quote = serializers.IntegerField(source="quote_id", read_only=True, allow_null=True)
    held = serializers.SerializerMethodField(help_text="Funds held (USD for buys, the currency for sells).")
    fill_quantity = AmountField(read_only=True, allow_null=True)
    fill_price = PriceField(source="fill_price_e8", read_only=True, allow_null=True)
    fill_usd_amount = UsdAmountField(read_only=True, allow_null=True)
    fee = UsdAmountField(read_only=True, allow_null=True, help_text="In USD, rounded up to the cent.")
    transaction = serializers.IntegerField(source="entry_id", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id", "client_order_id", "user", "side", "type", "time_in_force", "status", "reject_reason",
            "currency", "quantity", "usd_amount", "limit_price", "stop_price", "quote", "held",
            "fill_quantity", "fill_price", "fill_usd_amount", "fee", "transaction",
            "expires_at", "triggered_at", "created_at", "updated_at", "filled_at", "closed_at",
        ]

    def get_held(self, order) -> str | None:
        hold = order.hold
        if hold is None:
            return None
        currency = order.currency if order.side == Side.SELL else None
        scale = currency.scale if currency else settlement_currency().scale
        return from_minor_units(hold.amount, scale=scale)


def order_render(order: Order) -> dict:
    """`OrderSerializer(order).data`: the order as the API shows it (responses and events).

    Rendered by one serializer per process: a ModelSerializer builds its fields anew for every
    instance, which cost more CPU than rendering them. Its fields keep no state between orders."""
    return _order_serializer().to_representation(order)


@cache
def _order_serializer() -> OrderSerializer:
    return OrderSerializer()


# ---- conversions --------------------------------------------------------------------------


class ConversionCreateSerializer(AmountsMixin, serializers.Serializer):
    """Convert `amount` of `from_currency` into `to_currency` at the current rates."""

    user = ScopedIdField(find=_user_find, not_found="User not found.")
    from_currency = CurrencyCodeField()
    to_currency = CurrencyCodeField()
    amount = AmountField(currency_from="from_currency", help_text="In from_currency.")


class ConversionSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    from_currency = serializers.CharField(source="from_currency_id", read_only=True)
    to_currency = serializers.CharField(source="to_currency_id", read_only=True)
    from_amount = AmountField(read_only=True, scale_source="from_currency.scale")
    to_amount = AmountField(read_only=True, scale_source="to_currency.scale")
    rate = serializers.SerializerMethodField(help_text="to_currency per from_currency (display, rounded down).")
    from_price = PriceField(source="from_price_e8", read_only=True)
    to_price = PriceField(source="to_price_e8", read_only=True)
    usd_value = UsdAmountField(read_only=True)
    fee = UsdAmountField(read_only=True, help_text="In USD, rounded up to the cent.")
    transaction = serializers.IntegerField(source="entry_id", read_only=True)

    class Meta:
        model = Conversion
        fields = [
            "id", "user", "from_currency", "to_currency", "from_amount", "to_amount", "rate", "from_price",
            "to_price", "usd_value", "fee", "transaction", "created_at",
        ]

    def get_rate(self, conversion) -> str:
        return cross_rate_render(from_price_e8=conversion.from_price_e8, to_price_e8=conversion.to_price_e8)


# ---- positions ----------------------------------------------------------------------------


class PositionSerializer(serializers.Serializer):
    currency = serializers.CharField(source="currency.code")
    quantity = AmountField()
    available = AmountField()
    average_cost = PriceField(source="average_cost_e8", allow_null=True, help_text="USD per unit (average cost).")
    cost_basis = UsdAmountField(allow_null=True)
    price = PriceField(source="price_e8", allow_null=True)
    market_value = UsdAmountField(allow_null=True)
    unrealized_pnl = UsdAmountField(allow_null=True)


class UserPositionsSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    positions = PositionSerializer(many=True)
