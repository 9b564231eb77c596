"""Health, readiness and metrics endpoints, and the staff dashboard."""

import hmac
import logging

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from operations.dashboard import dashboard_context

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database and the cache answer. 503 (with what failed) otherwise."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    ready = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": {name: "ok" if ok else "failed" for name, ok in
                                                                 checks.items()}},
        status=200 if ready else 503,
    )


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means not ready; the reason goes to the log
        logger.exception("readiness: database check failed")
        return False


def _cache_ok() -> bool:
    try:
        cache.set("readyz", "ok", timeout=10)
        return cache.get("readyz") == "ok"
    except Exception:
        logger.exception("readiness: cache check failed")
        return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics. Public only with METRICS_PUBLIC; else a staff session or the bearer token."""
    if not (settings.METRICS_PUBLIC or _metrics_caller_allowed(request)):
        return HttpResponse("metrics require a staff session or the metrics token\n", status=401,
                            content_type="text/plain", headers={"WWW-Authenticate": "Bearer"})
    return ExportToDjangoView(request)


def _metrics_caller_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[len("Bearer "):].encode(),
                                                                       token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_active and user.is_staff
                and user.kind == user.Kind.PLATFORM_STAFF)


@staff_member_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("operations.view_dashboard"):
        raise PermissionDenied
    from django.contrib import admin

    context = {**admin.site.each_context(request), "title": "Operations dashboard", **dashboard_context()}
    return render(request, "operations/dashboard.html", context)
