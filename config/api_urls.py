"""/api/v1/: every app's API routes, the API root (browsable), JWT auth, schema and docs.

An app exposes `<app>/api/urls.py` with `urlpatterns` and, for the API root listing, a
`router` (a SimpleRouter whose registry is merged here).
"""

from importlib import import_module

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import APIRootView, DefaultRouter

from core.api.problems import problem_detail, problem_list

API_URL_MODULES = [
    "accounts.api.urls",
    "ledger.api.urls",
    "operations.api.urls",
    "broker.api.urls",
    "chain.api.urls",
    "events.api.urls",
]


class ApiRootView(APIRootView):
    """The endpoints of this API. Authenticate with `Authorization: Api-Key <key>`, a Bearer
    token, or an admin session; the schema is at /api/v1/schema/ and the docs at /api/v1/docs/."""

    permission_classes = [AllowAny]
    authentication_classes = []


class ApiRootRouter(DefaultRouter):
    APIRootView = ApiRootView
    include_root_view = True


root = ApiRootRouter()
for module_name in API_URL_MODULES:
    router = getattr(import_module(module_name), "router", None)
    if router is not None:
        root.registry.extend(router.registry)

urlpatterns = [
    path("", root.get_api_root_view(), name="api-root"),
    path("problems/", problem_list, name="problem-list"),
    path("problems/<slug:code>", problem_detail, name="problem-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    *[path("", include(module_name)) for module_name in API_URL_MODULES],
]
