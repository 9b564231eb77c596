"""Answers for requests that never reach a DRF view."""

from django.http import JsonResponse
from django.views import defaults

from core.api.exceptions import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


def not_found(request, exception=None):
    """An unknown URL under /api/ is a problem+json 404 like any other; elsewhere Django's page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    body = {
        "type": PROBLEM_TYPE_BASE + "not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No such resource.",
        "code": "not_found",
    }
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
