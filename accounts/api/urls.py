"""Routes under /api/v1/ for users and authentication. `router` is merged into the API root."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import schema  # noqa: F401 - registers the authentication schemes in OpenAPI
from accounts.api.auth_views import StaffTokenObtainView, StaffTokenRefreshView
from accounts.api.views import ClientViewSet, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("clients", ClientViewSet, basename="client")

urlpatterns = [
    path("auth/token/", StaffTokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", StaffTokenRefreshView.as_view(), name="token-refresh"),
    *router.urls,
]
