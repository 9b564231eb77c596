"""Query-string filters of the brokerage API."""

import django_filters

from broker.models import Order, Side
from core.api.filters import CodeFilter, IdFilter


class OrderFilter(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    side = django_filters.ChoiceFilter(choices=Side.choices)
    type = django_filters.ChoiceFilter(choices=Order.Type.choices)
    currency = CodeFilter(field_name="currency_id")

    class Meta:
        model = Order
        fields = ["user", "status", "side", "type", "currency"]
