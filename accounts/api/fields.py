"""Serializer fields shared by every app's API."""

from collections.abc import Callable

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdField(serializers.Field):
    """A reference by id to an object the caller may see; anything else answers 404.

    `queryset_for(caller)` returns what the caller may reference (a selector). An object of
    another tenant is indistinguishable from one that does not exist: 404, never 403 or 400.
    In responses it renders the id.

        from_account = ScopedIdField(queryset_for=lambda caller: account_list(caller=caller))
    """

    default_error_messages = {"invalid": "A positive integer id is expected."}

    def __init__(self, *, queryset_for: Callable[..., QuerySet], not_found: str = "Not found.", **kwargs):
        self.queryset_for = queryset_for
        self.not_found = not_found
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        found = self.queryset_for(self.context["request"].auth).filter(pk=self.parse_id(data)).first()
        if found is None:
            raise NotFound(self.not_found)
        return found

    def parse_id(self, data) -> int:
        """The id as an int (400 `invalid` unless a positive 64-bit integer or its digits)."""
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        text = str(data)
        if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_ID:
            self.fail("invalid")
        return int(text)

    def to_representation(self, value):
        return value.pk if hasattr(value, "pk") else value
