"""Routes under /api/v1/ for accounts, balances and money movements. `router` is merged into
the API root. Withdrawals are routed by operations.api.urls (they may wait for compliance review)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from ledger.api.views import (
    AccountViewSet,
    DepositViewSet,
    TransactionViewSet,
    TransferViewSet,
    TrialBalanceViewSet,
    UserBalancesViewSet,
)

router = SimpleRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("deposits", DepositViewSet, basename="deposit")
router.register("transfers", TransferViewSet, basename="transfer")
router.register("transactions", TransactionViewSet, basename="transaction")

urlpatterns = [
    path("users/<int:pk>/balances/", UserBalancesViewSet.as_view({"get": "retrieve"}), name="user-balances"),
    path("trial-balance/", TrialBalanceViewSet.as_view({"get": "list"}), name="trial-balance"),
    *router.urls,
]
