"""What every API view shares: the caller, with platform staff's `?client=` applied.

    class WidgetViewSet(CallerViewMixin, viewsets.GenericViewSet):
        def get_queryset(self):
            return widget_list(caller=self.caller)   # selectors take the caller

`self.caller` is `request.auth` (an accounts.callers.Caller). For platform staff, `?client=<id>`
narrows it to that client, so the same `scope_to_caller` filter applies to them too.
"""

from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from accounts.callers import Caller

CLIENT_PARAMETER = OpenApiParameter(
    "client",
    OpenApiTypes.INT,
    description="Platform staff only: restrict results to one client. Ignored for other callers.",
)


class CallerViewMixin:
    @cached_property
    def caller(self) -> Caller:
        caller: Caller = self.request.auth
        client = self.request.query_params.get("client")
        if client is None or not caller.is_platform_staff:
            return caller
        if not client.isdigit():
            raise ValidationError({"client": ["A client id (integer) is expected."]})
        return caller.narrowed_to(int(client))
