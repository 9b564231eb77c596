from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from operations import views as operations_views

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("", include("operations.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("healthz", operations_views.healthz, name="healthz"),
    path("readyz", operations_views.readyz, name="readyz"),
    path("metrics", operations_views.metrics, name="metrics"),
]

handler400 = "core.api.views.bad_request"
handler403 = "core.api.views.permission_denied"
handler404 = "core.api.views.not_found"
handler500 = "core.api.views.server_error"
