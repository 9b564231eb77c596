"""Currencies, rates, currency authorizations, quotes, orders, conversions and positions.

Each view authenticates (settings), validates with a serializer, calls one service or selector
and renders. Creating POSTs are `@idempotent`. Objects of another client answer 404. End-user
tokens are refused here (403): their rights end at their own ledger reads, transfers and reversals.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import ReturnDict

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from accounts.api.permissions import IsOperationsStaff
from accounts.models import User
from accounts.selectors import user_list
from broker.api.filters import OrderFilter
from broker.api.serializers import (
    ConversionCreateSerializer,
    ConversionSerializer,
    CurrencySerializer,
    OrderCreateSerializer,
    OrderSerializer,
    QuoteCreateSerializer,
    QuoteSerializer,
    RateHistorySerializer,
    RateSerializer,
    RateUpdateSerializer,
    UserCurrencyGrantSerializer,
    UserCurrencySerializer,
    UserPositionsSerializer,
    order_render,
)
from broker.models import Conversion, Order, Quote, Rate, RateHistory
from broker.selectors import (
    conversion_list,
    currency_list,
    order_list,
    position_list,
    quote_list,
    rate_history_list,
    rate_list,
    user_currency_list,
)
from broker.services import (
    conversion_create,
    order_cancel,
    order_submit,
    quote_create,
    rate_update,
    user_currency_grant,
    user_currency_revoke,
)
from core.api.fields import ID_PATTERN
from core.api.idempotency import idempotent
from core.api.pagination import CodeCursorPagination, CurrencyCursorPagination, IdCursorPagination
from ledger.models import Currency
from ledger.selectors import currency_active_find

CODE_PATTERN = r"[A-Za-z0-9]{2,10}"


def _active_currency(code: str) -> Currency:
    # A code in the URL names a resource: unknown or inactive is a 404 (see currency_active_find).
    currency = currency_active_find(code=code)
    if currency is None:
        raise NotFound(f"Unknown or inactive currency {code!r}.")
    return currency


class CurrencyViewSet(CallerViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Active currencies with their current USD price (null when there is no rate)."""

    queryset = Currency.objects.none()
    serializer_class = CurrencySerializer
    pagination_class = CodeCursorPagination
    filterset_class = None

    def get_queryset(self):
        return currency_list()


@extend_schema_view(
    update=extend_schema(
        request=RateUpdateSerializer,
        responses={200: RateSerializer},
        summary="Set a rate (platform Operations staff)",
    ),
)
class RateViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Current rates in USD. Stored locally and trusted; every change is kept in the history."""

    queryset = Rate.objects.none()
    serializer_class = RateSerializer
    pagination_class = CurrencyCursorPagination
    filterset_class = None
    lookup_field = "currency"
    lookup_value_regex = CODE_PATTERN

    def get_queryset(self):
        return rate_list()

    def get_object(self):
        rate = rate_list().filter(currency_id=_active_currency(self.kwargs["currency"]).code).first()
        if rate is None:
            raise NotFound("There is no rate for this currency.")
        return rate

    def get_permissions(self):
        if self.action == "update":
            return [IsOperationsStaff()]
        return super().get_permissions()

    def update(self, request, currency=None):
        serializer = RateUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rate = rate_update(
            currency=_active_currency(currency),
            price_e8=serializer.validated_data["price"],
            changed_by=self.caller.user,
            source=RateHistory.Source.API,
        )
        return Response(RateSerializer(rate).data)

    @extend_schema(responses={200: RateHistorySerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], pagination_class=IdCursorPagination)
    def history(self, request, currency=None):
        code = _active_currency(currency).code
        page = self.paginate_queryset(rate_history_list(currency_code=code))
        return self.get_paginated_response(RateHistorySerializer(page, many=True).data)


class _UserScopedMixin(CallerViewMixin):
    kwargs: dict

    def get_user(self) -> User:
        user = user_list(caller=self.caller).filter(pk=self.kwargs["user_pk"]).first()
        if user is None:
            raise NotFound("User not found.")
        return user


class UserCurrencyViewSet(_UserScopedMixin, viewsets.GenericViewSet):
    """The currencies one user may transact (USD always), granted and revoked by the client."""

    queryset = Currency.objects.none()
    serializer_class = UserCurrencySerializer
    pagination_class = CodeCursorPagination
    filterset_class = None
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN

    @extend_schema(summary="Currencies this user can transact")
    def list(self, request, user_pk=None):
        page = self.paginate_queryset(user_currency_list(user=self.get_user()))
        return self.get_paginated_response(UserCurrencySerializer(page, many=True).data)

    @extend_schema(
        request=UserCurrencyGrantSerializer,
        responses={201: UserCurrencySerializer},
        summary="Authorize the user for a currency the client offers",
    )
    @idempotent
    def create(self, request, user_pk=None):
        user = self.get_user()
        serializer = UserCurrencyGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        currency = serializer.validated_data["currency"]
        user_currency_grant(user=user, currency=currency)
        return Response(UserCurrencySerializer(currency).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: OpenApiResponse(description="Revoked.")}, summary="Revoke a currency")
    def destroy(self, request, user_pk=None, code=None):
        user_currency_revoke(user=self.get_user(), currency=_active_currency(code))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserPositionsViewSet(_UserScopedMixin, viewsets.GenericViewSet):
    queryset = User.objects.none()
    serializer_class = UserPositionsSerializer
    pagination_class = None
    filterset_class = None

    @extend_schema(
        operation_id="users_positions_retrieve",
        responses={200: UserPositionsSerializer},
        summary="Holdings per currency with average cost, market value and unrealized P&L",
    )
    def retrieve(self, request, user_pk=None):
        user = self.get_user()
        return Response(UserPositionsSerializer({"user": user.pk, "positions": position_list(user=user)}).data)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class QuoteViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Firm prices, valid for QUOTE_TTL_SECONDS; execute one by submitting an order with `quote`."""

    queryset = Quote.objects.none()
    serializer_class = QuoteSerializer
    filterset_class = None
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return quote_list(caller=self.caller).select_related("currency")

    @extend_schema(request=QuoteCreateSerializer, responses={201: QuoteSerializer})
    @idempotent
    def create(self, request):
        serializer = QuoteCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        quote = quote_create(**serializer.validated_data)
        return Response(QuoteSerializer(quote).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class OrderViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders are accepted (202, `submitted`) with their funds held, then executed by the worker."""

    queryset = Order.objects.none()
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return order_list(caller=self.caller).select_related("currency", "hold")

    @extend_schema(request=OrderCreateSerializer, responses={202: OrderSerializer})
    @idempotent
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        order = order_submit(request=serializer.to_request())
        return Response(_order_data(order), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def cancel(self, request, pk=None):
        order = order_cancel(order=self.get_object(), actor=self.caller.user)
        return Response(_order_data(order))


def _order_data(order: Order) -> ReturnDict:
    # What OrderSerializer(order).data is (the browsable API reads its serializer), rendered once
    # per process's serializer (order_render).
    return ReturnDict(order_render(order), serializer=OrderSerializer(order))


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class ConversionViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Currency conversions at the current rates: one journal entry each, all or nothing."""

    queryset = Conversion.objects.none()
    serializer_class = ConversionSerializer
    filterset_class = None
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return conversion_list(caller=self.caller).select_related("from_currency", "to_currency")

    @extend_schema(request=ConversionCreateSerializer, responses={201: ConversionSerializer})
    @idempotent
    def create(self, request):
        serializer = ConversionCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        conversion = conversion_create(**serializer.validated_data)
        return Response(ConversionSerializer(conversion).data, status=status.HTTP_201_CREATED)
