from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first by primary key: a strictly increasing, unique key keeps cursors stable
    while rows are being inserted (created_at can tie)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200


class CodeCursorPagination(IdCursorPagination):
    """Lists keyed by currency code (currencies, a user's currencies): alphabetical, and as
    stable under inserts as the id cursor, since codes are unique."""

    ordering = "code"


class CurrencyCursorPagination(IdCursorPagination):
    """Lists with one row per currency (rates): alphabetical by currency code."""

    ordering = "currency_id"
