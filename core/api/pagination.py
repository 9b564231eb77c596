from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first by primary key: a strictly increasing, unique key keeps cursors stable
    while rows are being inserted (created_at can tie)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
