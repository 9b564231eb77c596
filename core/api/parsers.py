"""The one JSON parser of the API: exact numbers, bounded nesting and size, storable text.

- Every number with a fraction or exponent is parsed as Decimal (`parse_float=Decimal`, which
  keeps every digit the client wrote), never float; NaN and Infinity are refused. Amounts then go
  through `ledger.money`, which refuses more places than the currency holds, never rounding.
- Nesting deeper than MAX_DEPTH is 400 `malformed_request`, measured on the raw text before
  parsing: Python's C parser recurses once per level, and a library that raises the recursion
  limit (py-evm does, on import) would let it overflow the C stack and kill the process.
- A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is 413 `request_too_large`, before it is read.
- A NUL character or an unpaired surrogate in any string or key is 400 `validation_error` naming
  the top-level field: PostgreSQL can store neither in text or jsonb.
"""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _nesting_exceeds(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than `limit`. Linear in the text, and only
    walked when the text holds more than `limit` opening brackets at all."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def unstorable_text(text: str) -> bool:
    """True when PostgreSQL could not store `text`: a NUL, or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_tree(data) -> None:
    """Walk the parsed body without recursion: depth, then storable keys and strings."""
    stack = [(data, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                top = field if field is not None else key
                if unstorable_text(key):
                    raise _unstorable(top)
                stack.append((item, depth + 1, top))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and unstorable_text(value):
            raise _unstorable(field)


def _unstorable(field) -> ValidationError:
    name = field if isinstance(field, str) and not unstorable_text(field) else "non_field_errors"
    return ValidationError({name: ["Text may not contain NUL characters or unpaired surrogates."]})


class ExactJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            text = raw.decode(encoding)
            if _nesting_exceeds(text, MAX_DEPTH):
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from error
        _check_tree(data)
        return data
