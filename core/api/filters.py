"""Query-string filters shared by every app's API."""

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.api.fields import MAX_ID


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    """An id in the query string: a positive integer within 64 bits (anything else is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class CodeFilter(django_filters.CharFilter):
    """A code in any case (`?currency=btc`), matched upper-cased."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 10)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return super().filter(qs, value.strip().upper() if value else value)
