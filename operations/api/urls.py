"""Routes under /api/v1/ owned by the back office. `router` is merged into the API root."""

from rest_framework.routers import SimpleRouter

from operations.api.views import PendingWithdrawalViewSet, WithdrawalViewSet

router = SimpleRouter()
router.register("withdrawals", WithdrawalViewSet, basename="withdrawal")
router.register("pending-withdrawals", PendingWithdrawalViewSet, basename="pending-withdrawal")

urlpatterns = router.urls
