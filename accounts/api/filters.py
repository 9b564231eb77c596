import django_filters

from accounts.models import User


class UserFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ["external_id", "email", "is_active"]
