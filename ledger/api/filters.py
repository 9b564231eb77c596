import django_filters
from django.db.models import Exists, OuterRef

from core.api.filters import CodeFilter, IdFilter
from ledger.models import Account, JournalEntry, Posting
from ledger.selectors import entry_history_of


class AccountFilter(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    currency = CodeFilter(field_name="currency_id")

    class Meta:
        model = Account
        fields = ["user", "currency"]


class TransactionFilter(django_filters.FilterSet):
    """Filters on postings use EXISTS, so an entry touching two matching accounts appears once;
    `account` joins the account's first posting of each entry, which is also once."""

    account = IdFilter(method="filter_account")
    user = IdFilter(method="filter_user")
    currency = CodeFilter(method="filter_currency")
    kind = django_filters.ChoiceFilter(choices=JournalEntry.Kind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = JournalEntry
        fields = ["account", "user", "currency", "kind", "created_after", "created_before"]

    def filter_account(self, queryset, name, value):
        # Paged from the account's postings (see the selector); pair with HistoryCursorPagination.
        return entry_history_of(queryset, account_id=value)

    def filter_user(self, queryset, name, value):
        return queryset.filter(Exists(Posting.objects.filter(entry_id=OuterRef("pk"), account__user_id=value)))

    def filter_currency(self, queryset, name, value):
        return queryset.filter(
            Exists(Posting.objects.filter(entry_id=OuterRef("pk"), account__currency_id=value.strip().upper()))
        )
