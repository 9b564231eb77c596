"""Cursor pagination for every list. A cursor that was not produced here (tampered, truncated,
or naming a position of the wrong type) is 400 `invalid_cursor`, never a 404 or a 500."""

import re
from base64 import b64decode
from binascii import Error as Base64Error
from urllib import parse

from rest_framework.pagination import Cursor, CursorPagination

from core.errors import InvalidInputError

_ID_POSITION = re.compile(r"^[0-9]{1,19}$")
_CODE_POSITION = re.compile(r"^[A-Za-z0-9]{1,10}$")
_MAX_OFFSET = 10_000
_MAX_CURSOR_LENGTH = 512


class InvalidCursorError(InvalidInputError):
    code = "invalid_cursor"
    title = "Invalid cursor"


class IdCursorPagination(CursorPagination):
    """Newest first by primary key: a strictly increasing, unique key keeps cursors stable
    while rows are being inserted (created_at can tie)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
    position_pattern = _ID_POSITION

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            if len(encoded) > _MAX_CURSOR_LENGTH:
                raise ValueError("too long")
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                                    keep_blank_values=True, strict_parsing=False)
            offset = tokens.get("o", ["0"])[0]
            reverse = tokens.get("r", ["0"])[0]
            position = tokens.get("p", [None])[0]
            if not offset.isdigit() or int(offset) > _MAX_OFFSET or reverse not in ("0", "1"):
                raise ValueError("bad offset or direction")
            if position is not None and not self.position_pattern.match(position):
                raise ValueError("bad position")
        except (TypeError, ValueError, UnicodeError, Base64Error):
            raise InvalidCursorError(
                "The cursor is not one this list produced; follow `next` and `previous` as given.",
                errors={self.cursor_query_param: ["Invalid cursor."]},
            ) from None
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)


class CodeCursorPagination(IdCursorPagination):
    """Lists keyed by currency code (currencies, a user's currencies): alphabetical, and as
    stable under inserts as the id cursor, since codes are unique."""

    ordering = "code"
    position_pattern = _CODE_POSITION


class CurrencyCursorPagination(IdCursorPagination):
    """Lists with one row per currency (rates): alphabetical by currency code."""

    ordering = "currency_id"
    position_pattern = _CODE_POSITION
