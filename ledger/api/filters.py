import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ledger.models import Account, JournalEntry, Posting
from ledger.selectors import entry_history_of

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class CurrencyFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        return super().filter(qs, value.strip().upper() if value else value)


class AccountFilter(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    currency = CurrencyFilter(field_name="currency_id", max_length=10)

    class Meta:
        model = Account
        fields = ["user", "currency"]


class TransactionFilter(django_filters.FilterSet):
    """Filters on postings use EXISTS, so an entry touching two matching accounts appears once;
    `account` joins the account's first posting of each entry, which is also once."""

    account = IdFilter(method="filter_account")
    user = IdFilter(method="filter_user")
    currency = CurrencyFilter(method="filter_currency", max_length=10)
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
