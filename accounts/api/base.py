"""What every API view shares: the caller, with platform staff's `?client=` applied.

    class WidgetViewSet(CallerViewMixin, viewsets.GenericViewSet):
        def get_queryset(self):
            return widget_list(caller=self.caller)   # selectors take the caller

`self.caller` is `request.auth` (an accounts.callers.Caller). For platform staff, `?client=<id>`
narrows it to that client once, before the handler runs, by replacing `request.auth`: URLs,
selectors and ids in the body (`ScopedIdField` reads `request.auth`) are scoped by the same caller.
"""

from typing import cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from accounts.callers import Caller
from core.api.fields import MAX_ID

CLIENT_PARAMETER = OpenApiParameter(
    "client",
    OpenApiTypes.INT,
    description="Platform staff only: restrict results to one client. Ignored for other callers.",
)


class CallerViewMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticates and checks permissions
        caller = request.auth
        client = request.query_params.get("client")
        if isinstance(caller, Caller) and caller.is_platform_staff and client is not None:
            if not (client.isascii() and client.isdigit() and 0 < int(client) <= MAX_ID):
                raise ValidationError({"client": ["A client id (integer) is expected."]})
            request.auth = caller.narrowed_to(int(client))

    @property
    def caller(self) -> Caller:
        return cast(Caller, self.request.auth)  # type: ignore[attr-defined]
