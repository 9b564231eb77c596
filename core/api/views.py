"""Answers for requests that never reach a DRF view: Django's own 400, 403 (CSRF), 404, 413 and
500 are problem+json too. A browser asking for HTML outside /api/ (admin, the dashboard) still
gets Django's pages."""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

from core.api.exceptions import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, status_title


def problem_json(*, status: int, code: str, detail: str, errors: dict | None = None) -> JsonResponse:
    body = {"type": PROBLEM_TYPE_BASE + code, "title": status_title(status), "status": status, "detail": detail,
            "code": code}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def _wants_html_page(request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def not_found(request, exception=None):
    if _wants_html_page(request):
        return defaults.page_not_found(request, exception)
    return problem_json(status=404, code="not_found", detail="No such resource.")


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return problem_json(status=413, code="request_too_large", detail="The request body is too large.")
    if _wants_html_page(request):
        return defaults.bad_request(request, exception)
    return problem_json(status=400, code="malformed_request", detail="The request could not be understood.")


def permission_denied(request, exception=None):
    if _wants_html_page(request):
        return defaults.permission_denied(request, exception)
    return problem_json(status=403, code="permission_denied", detail="You are not allowed to perform this action.")


def csrf_failure(request, reason=""):
    if _wants_html_page(request):
        return django_csrf_failure(request, reason)
    return problem_json(status=403, code="csrf_failed", detail="CSRF verification failed; send the CSRF token.")


def server_error(request):
    if _wants_html_page(request):
        return defaults.server_error(request)
    return problem_json(status=500, code="server_error", detail="An unexpected error occurred; it has been logged.")
