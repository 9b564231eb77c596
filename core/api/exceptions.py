"""The one error format: RFC 9457 problem details (`application/problem+json`).

`{type, title, status, detail, code, errors?}`: `code` is a stable slug clients switch on;
`errors` maps field names to messages for validation failures.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Served by core.api.problems (a URI reference relative to this host, as RFC 9457 allows).
PROBLEM_TYPE_BASE = "/api/v1/problems/"

DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "validation_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def problem_response(
    *, status_code: int, code: str, title: str, detail: str, errors: dict | None = None, headers: dict | None = None
) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def domain_error_response(exc: DomainError) -> Response:
    return problem_response(
        status_code=exc.status, code=exc.code, title=exc.title, detail=exc.detail, errors=exc.errors
    )


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let Django log it and answer 500
    code = next((slug for cls, slug in DRF_CODES.items() if isinstance(exc, cls)), None) or getattr(
        exc, "default_code", "error"
    )
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        detail = "The request has invalid fields."
        code = _validation_code(errors)
    else:
        detail, code = _readable_detail(exc, code)
    headers = {key: value for key, value in response.items() if key in ("WWW-Authenticate", "Retry-After", "Allow")}
    return problem_response(
        status_code=response.status_code,
        code=code,
        title=status_title(response.status_code),
        detail=detail,
        errors=errors,
        headers=headers,
    )


# Codes an authentication failure may carry instead of the generic one: a client acts on them
# (token_expired → refresh; client_inactive → talk to the platform).
_AUTHENTICATION_CODES = {"token_expired", "token_invalid", "client_inactive", "no_active_account"}


def _readable_detail(exc, code: str) -> tuple[str, str]:
    """A sentence, never a repr: simplejwt puts a dict ({detail, code, messages}) in `detail`."""
    detail = getattr(exc, "detail", str(exc))
    if isinstance(detail, dict):
        inner = detail.get("detail", "")
        detail_code = getattr(inner, "code", None) or detail.get("code")
        if detail_code == "token_not_valid":
            detail_code = "token_invalid"
        return str(inner) or "Invalid credentials.", detail_code if detail_code in _AUTHENTICATION_CODES else code
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail), code
    detail_code = getattr(detail, "code", None)
    if isinstance(exc, exceptions.AuthenticationFailed) and detail_code in _AUTHENTICATION_CODES:
        code = detail_code
    return str(detail), code


def _validation_code(errors: dict) -> str:
    """A field error raised with a domain code (e.g. invalid_amount) becomes the problem's code."""
    for messages in errors.values():
        for message in messages if isinstance(messages, list) else [messages]:
            code = getattr(message, "code", None)
            if code and code not in ("invalid", "required", "null", "blank", "does_not_exist", "incorrect_type"):
                return code
    return "validation_error"


def status_title(status_code: int) -> str:
    return {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Permission denied",
        404: "Not found",
        405: "Method not allowed",
        406: "Not acceptable",
        413: "Request too large",
        415: "Unsupported media type",
        429: "Too many requests",
        500: "Server error",
    }.get(status_code, "Error")
