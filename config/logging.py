"""Structured logs: one JSON object per line, with the request id, client and caller type.

structlog renders both our own loggers and Django's (through the standard library), so every
line has the same shape. Secrets never reach the output: request headers and bodies are not
logged, and a last processor masks anything that looks like an API key or bearer token in any
string value, whoever logged it. `LOG_FORMAT=console` gives readable lines for local work.
"""

import logging
import os
import re

import structlog

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")

# `<12 hex>.<secret>` API keys, JWTs (staff and end-user tokens, wherever they appear: a URL path
# too), and credentials after an auth scheme.
_API_KEY = re.compile(r"\b([0-9a-f]{12})\.[A-Za-z0-9_\-]{20,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_CREDENTIAL = re.compile(r"(?i)\b(api-key|bearer|token)(\s+|=)[A-Za-z0-9._\-~+/]{8,}=*")


def redact(text: str) -> str:
    text = _JWT.sub("[redacted-token]", text)
    text = _API_KEY.sub(r"\1.[redacted]", text)
    return _CREDENTIAL.sub(r"\1\2[redacted]", text)


def _redact_secrets(logger, method_name, event_dict):
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def _add_request_context(logger, method_name, event_dict):
    # Imported late: settings import this module before apps are loaded.
    from core.middleware import request_context

    # Django logs a failed request (django.request) after the middleware has returned, passing
    # the request along: read the context from it then.
    record = event_dict.get("_record")
    request = getattr(record, "request", None) if record is not None else None
    for key, value in request_context(request if hasattr(request, "request_id") else None).items():
        event_dict.setdefault(key, value)
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    _add_request_context,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
]


def formatter() -> structlog.stdlib.ProcessorFormatter:
    """The one formatter for every handler (tests attach it to capture what production prints)."""
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if LOG_FORMAT == "console"
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _redact_secrets,
            renderer,
        ],
    )


structlog.configure(
    processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": formatter}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our request line replaces Django's own access log; errors still come through django.request.
        "django.server": {"level": logging.WARNING},
    },
}
