"""Request id and request logging context.

The request id is taken from `X-Request-ID` when a proxy set a sane one, else generated. It is
exposed as `request.request_id`, echoed in the response header, and bound to the logging context
so every log line of the request carries it, together with the caller's client and kind once the
request is authenticated. One `request` line per request records method, path (never the query
string, which may carry tokens), status and duration.
"""

import re
import time
import uuid
from contextvars import ContextVar

import structlog

from core.api.caller import CallerLike

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
current_request_var: ContextVar[object | None] = ContextVar("current_request", default=None)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

logger = structlog.get_logger("request")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        started = time.monotonic_ns()
        token = request_id_var.set(request_id)
        request_token = current_request_var.set(request)
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                response = self.get_response(request)
                logger.info(
                    "request",
                    method=request.method,
                    path=request.path,
                    status=response.status_code,
                    duration_ms=(time.monotonic_ns() - started) // 1_000_000,
                )
        finally:
            current_request_var.reset(request_token)
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


def request_context(request=None) -> dict:
    """The request id, client and caller kind of `request` (default: the current one), for logs.

    Reads only what authentication already stored (DRF's `request.auth`, or a session user that
    has been loaded) so logging never triggers authentication itself.
    """
    request = request if request is not None else current_request_var.get()
    if request is None:
        return {}
    context = {"request_id": request.__dict__.get("request_id")} if "request_id" in request.__dict__ else {}
    caller = request.__dict__.get("auth")
    if isinstance(caller, CallerLike):
        return {**context, "caller": str(caller.kind), "client_id": caller.client_id}
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is not None and getattr(wrapped, "is_authenticated", False) and hasattr(wrapped, "kind"):
        return {**context, "caller": str(wrapped.kind), "client_id": wrapped.client_id}
    return context


class UnstorableTextMiddleware:
    """A NUL or an unpaired surrogate in the URL path or the query string is 400 with the name of
    the parameter, before any view turns it into a query PostgreSQL would refuse (a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from core.api.parsers import unstorable_text
        from core.api.views import problem_json

        message = ["Text may not contain NUL characters or unpaired surrogates."]
        if unstorable_text(request.path):
            return problem_json(status=400, code="validation_error", detail="The URL path has invalid characters.",
                                errors={"path": message})
        for key, values in request.GET.lists():
            if unstorable_text(key) or any(unstorable_text(value) for value in values):
                name = key if not unstorable_text(key) else "query"
                return problem_json(status=400, code="validation_error", detail="The request has invalid fields.",
                                    errors={name: message})
        return self.get_response(request)
