"""Routes under /api/v1/ for the crypto rails. `router` is merged into the API root."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from chain.api.views import ChainDepositViewSet, CryptoWithdrawalViewSet, DepositAddressViewSet

router = SimpleRouter()
router.register("chain-deposits", ChainDepositViewSet, basename="chain-deposit")
router.register("crypto-withdrawals", CryptoWithdrawalViewSet, basename="crypto-withdrawal")

deposit_addresses = DepositAddressViewSet.as_view({"get": "list", "post": "create"})

urlpatterns = [
    path("users/<int:user_pk>/deposit-addresses/", deposit_addresses, name="user-deposit-addresses"),
    *router.urls,
]
