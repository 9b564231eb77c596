from core.api.pagination import IdCursorPagination


class HistoryCursorPagination(IdCursorPagination):
    """Journal entries, newest first. When the list is one account's history
    (`ledger.selectors.entry_history_of`), the cursor is the entry id as read from the account's
    postings (`history_position`), so the page is found in the postings index, not by walking the
    journal. Otherwise the entry id, like every list.

    The cursor's bound is put on the entry id as well: it is the same value, but PostgreSQL does
    not carry an inequality across a join, and without it a merge join walks the journal's primary
    key down from the newest entry to the cursor (100,000 entries deep: 100,000 rows read for a
    page of 50)."""

    def get_ordering(self, request, queryset, view):
        if "history_position" in queryset.query.annotations:
            return ("-history_position",)
        return super().get_ordering(request, queryset, view)

    def paginate_queryset(self, queryset, request, view=None):
        if "history_position" in queryset.query.annotations:
            cursor = self.decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                # Newest first: forward pages lie below the position, backward pages above it.
                bound = "pk__gt" if cursor.reverse else "pk__lt"
                queryset = queryset.filter(**{bound: int(cursor.position)})
        return super().paginate_queryset(queryset, request, view)
