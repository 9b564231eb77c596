"""Routes under /api/v1/ for the brokerage. `router` is merged into the API root."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from broker.api.views import (
    ConversionViewSet,
    CurrencyViewSet,
    OrderViewSet,
    QuoteViewSet,
    RateViewSet,
    UserCurrencyViewSet,
    UserPositionsViewSet,
)

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
    path("users/<int:user_pk>/currencies/<str:code>/", user_currency, name="user-currency"),
    path(
        "users/<int:user_pk>/positions/",
        UserPositionsViewSet.as_view({"get": "retrieve"}),
        name="user-positions",
    ),
    *router.urls,
]
