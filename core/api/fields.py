"""Serializer fields shared by every app's API: ids the caller may reference, and codes.

Ids in bodies, query strings and URLs follow one rule: a positive integer within 64 bits
(`MAX_ID`); URL routes match `ID_PATTERN`, so anything else is a 404 before a view runs.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from core.api.caller import CallerLike

MAX_ID = 2**63 - 1
ID_PATTERN = r"[0-9]+"


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdField(serializers.Field):
    """A reference by id to an object the caller may see; anything else answers 404.

    `queryset_for(caller)` returns what the caller may reference (a selector). An object of
    another tenant is indistinguishable from one that does not exist: 404, never 403 or 400.
    In responses it renders the id. Instead of `queryset_for`, `find(caller, pk)` may return the
    object or None itself (a selector whose query is compiled once, core.compiled).

        from_account = ScopedIdField(queryset_for=lambda caller: account_list(caller=caller))
    """

    default_error_messages = {"invalid": "A positive integer id is expected."}

    def __init__(
        self,
        *,
        queryset_for: Callable[[Any], QuerySet] | None = None,
        find: Callable[[Any, int], Model | None] | None = None,
        not_found: str = "Not found.",
        **kwargs,
    ):
        if (queryset_for is None) == (find is None):
            raise TypeError("Give exactly one of queryset_for or find.")
        self.queryset_for = queryset_for
        self.find = find or self._find_in_queryset
        self.not_found = not_found
        super().__init__(**kwargs)

    def _find_in_queryset(self, caller: Any, pk: int) -> Model | None:
        return self.queryset_for(caller).filter(pk=pk).first()  # type: ignore[misc]

    def to_internal_value(self, data):
        pk = self.parse_id(data)
        # The caller as the view narrowed it (platform staff's ?client=), so bodies and URLs agree.
        caller = self.context["request"].auth
        if not isinstance(caller, CallerLike):
            raise NotFound(self.not_found)
        found = self.find(caller, pk)
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


class CodeField(serializers.Field):
    """A short code in (any case, surrounding space ignored); out, what `lookup(code)` finds.

    An unknown code is a field error (a 400: the body named something that does not exist,
    which is not a missing resource) whose code is `unknown_code`. Subclasses set `lookup`,
    `unknown_code` and its message.
    """

    max_length = 10
    unknown_code = "unknown_code"
    default_error_messages = {
        "invalid": "A code such as \"BTC\" is expected.",
        "unknown_code": "Unknown or inactive code {code!r}.",
    }

    def lookup(self, code: str) -> Model | None:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str) or not 0 < len(data.strip()) <= self.max_length:
            self.fail("invalid")
        code = data.strip().upper()
        found = self.lookup(code)
        if found is None:
            self.fail(self.unknown_code, code=code)
        return found

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "code", value)
