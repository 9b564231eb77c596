from core.api.pagination import IdCursorPagination


class HistoryCursorPagination(IdCursorPagination):
    """Journal entries, newest first. When the list is one account's history
    (`ledger.selectors.entry_history_of`), the cursor is the entry id as read from the account's
    postings (`history_position`), so the page is found in the postings index, not by walking the
    journal. Otherwise the entry id, like every list."""

    def get_ordering(self, request, queryset, view):
        if "history_position" in queryset.query.annotations:
            return ("-history_position",)
        return super().get_ordering(request, queryset, view)
