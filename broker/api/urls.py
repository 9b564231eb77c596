"""Routes under /api/v1/ for the brokerage. `router` is merged into the API root."""

from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from broker.api.views import (
    CODE_PATTERN,
    ConversionViewSet,
    CurrencyViewSet,
    OrderViewSet,
    QuoteViewSet,
    RateViewSet,
    UserCurrencyViewSet,
    UserPositionsViewSet,
)


class CurrencyCodeConverter:
    """A currency code in a route: anything else is 404 before a view sees it."""

    regex = CODE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CurrencyCodeConverter, "currency_code")

router = SimpleRouter()
router.register("currencies", CurrencyViewSet, basename="currency")
router.register("rates", RateViewSet, basename="rate")
router.register("quotes", QuoteViewSet, basename="quote")
router.register("orders", OrderViewSet, basename="order")
router.register("conversions", ConversionViewSet, basename="conversion")

user_currencies = UserCurrencyViewSet.as_view({"get": "list", "post": "create"})
user_currency = UserCurrencyViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    path("users/<int:user_pk>/currencies/", user_currencies, name="user-currencies"),
    path("users/<int:user_pk>/currencies/<currency_code:code>/", user_currency, name="user-currency"),
    path(
        "users/<int:user_pk>/positions/",
        UserPositionsViewSet.as_view({"get": "retrieve"}),
        name="user-positions",
    ),
    *router.urls,
]
