"""The one serializer field for amounts. Every app's API uses it; `ledger.money` does the work.

Out: minor units rendered with the currency's scale, as a string ("0.10000000").
In: a decimal string or a JSON number (parsed as Decimal by ExactJSONParser, never float). The
scale is the currency's, known only once the account or currency field is resolved, so the field
checks the type and `AmountsMixin.validate` converts to minor units. Every failure is a 400 with
code `invalid_amount`.

    class DepositSerializer(AmountsMixin, serializers.Serializer):
        account = ScopedIdField(queryset_for=...)
        amount = AmountField(currency_from="account")      # an Account or a Currency field

    class AccountSerializer(serializers.ModelSerializer):
        balance = AmountField(read_only=True)               # scale from instance.currency.scale
"""

from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.fields import get_attribute

from core.api.fields import CodeField
from ledger.errors import InvalidAmountError
from ledger.models import Account, Currency
from ledger.money import AMOUNT_PATTERN, from_minor_units, to_minor_units
from ledger.selectors import currency_active_find


@extend_schema_field({"type": "string", "maxLength": 10, "example": "BTC"})
class CurrencyCodeField(CodeField):
    """A currency code in (any case); the active Currency out (400 `unknown_currency` otherwise)."""

    unknown_code = "unknown_currency"
    default_error_messages = {
        "invalid": "A currency code such as \"BTC\" is expected.",
        "unknown_currency": "Unknown or inactive currency {code!r}.",
    }

    def lookup(self, code: str) -> Currency | None:
        return currency_active_find(code=code)


class AmountField(serializers.Field):
    default_error_messages = {
        "invalid_amount": 'An amount is a decimal string such as "10.50" or a JSON number, not {type}.',
    }

    def __init__(self, *, currency_from: str | None = None, scale_source: str = "currency.scale", **kwargs):
        self.currency_from = currency_from
        self.scale_source = scale_source
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        minor = super().get_attribute(instance)
        if minor is None:
            return None
        return minor, get_attribute(instance, self.scale_source.split("."))

    def to_representation(self, value):
        minor, scale = value
        return from_minor_units(minor, scale=scale)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            self.fail("invalid_amount", type=type(data).__name__)
        return data


class AmountsMixin:
    """Converts every AmountField with `currency_from` to minor units once its currency is known."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        for name, field in self.fields.items():
            if not isinstance(field, AmountField) or field.currency_from is None or field.source not in attrs:
                continue
            currency = attrs.get(self.fields[field.currency_from].source)
            if isinstance(currency, Account):
                currency = currency.currency
            if not isinstance(currency, Currency):
                continue  # the currency field failed and reports its own error
            try:
                attrs[field.source] = to_minor_units(attrs[field.source], scale=currency.scale)
            except InvalidAmountError as error:
                raise ValidationError({name: [ErrorDetail(error.detail, code="invalid_amount")]}) from None
        return attrs


class AmountFieldSchema(OpenApiSerializerFieldExtension):
    target_class = AmountField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        if direction == "response":
            return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "0.10000000"}
        return {
            "oneOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN, "example": "10.50"},
                {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            ],
            "description": "Positive, at most the currency's decimal places; more is an error, never rounded.",
        }
