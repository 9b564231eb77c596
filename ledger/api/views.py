"""Accounts, balances, money movements and the journal, under /api/v1/.

Each view authenticates (settings), validates with a serializer, calls one service or selector
and renders. Money-moving and creating POSTs are `@idempotent`. Withdrawals are served by
operations.api: above a configured value they wait for Compliance, which the ledger does not know.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from accounts.models import User
from accounts.selectors import user_list
from core.api.fields import ID_PATTERN
from core.api.idempotency import idempotent
from ledger.api.filters import AccountFilter, TransactionFilter
from ledger.api.serializers import (
    AccountCreateSerializer,
    AccountSerializer,
    BalanceQuerySerializer,
    MovementSerializer,
    ReverseSerializer,
    TransactionSerializer,
    TransferCreateSerializer,
    UserBalancesSerializer,
)
from ledger.models import Account, JournalEntry
from ledger.selectors import (
    access_transfer_to_reverse,
    account_biggest_list,
    account_list,
    balance_list,
    entry_for_rendering,
    entry_list,
    transfer_list,
)
from ledger.services import account_create, deposit_create, transfer_create, transfer_reverse


def _created(entry) -> Response:
    # The same transaction object GET /transactions/{id}/ returns (a new entry is not reversed yet).
    return Response(TransactionSerializer(entry_for_rendering(entry=entry)).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class AccountViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users' accounts: one per user per currency."""

    queryset = Account.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    end_user_actions = {"list", "retrieve", "transactions"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return account_list(caller=self.caller)

    @extend_schema(request=AccountCreateSerializer, responses={201: AccountSerializer})
    @idempotent
    def create(self, request):
        serializer = AccountCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        account = account_create(**serializer.validated_data)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: TransactionSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"])
    def transactions(self, request, pk=None):
        account = self.get_object()
        page = self.paginate_queryset(entry_list(caller=self.caller, account=account))
        return self.get_paginated_response(TransactionSerializer(page, many=True).data)

    @extend_schema(
        responses={200: AccountSerializer(many=True)},
        filters=False,
        parameters=[CLIENT_PARAMETER],
        summary="Per currency, the user account with the largest balance",
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def biggest(self, request):
        return Response(AccountSerializer(account_biggest_list(caller=self.caller), many=True).data)


class UserBalancesViewSet(CallerViewMixin, viewsets.GenericViewSet):
    queryset = User.objects.none()
    end_user_actions = {"retrieve"}
    lookup_value_regex = ID_PATTERN
    pagination_class = None
    filterset_class = None
    serializer_class = UserBalancesSerializer

    def get_queryset(self):
        return user_list(caller=self.caller)

    @extend_schema(
        operation_id="users_balances_retrieve",
        parameters=[OpenApiParameter("currency", str, description="Narrow to one currency (zero when no account).")],
        responses={200: UserBalancesSerializer},
    )
    def retrieve(self, request, pk=None):
        user = self.get_object()
        query = BalanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        balances = balance_list(caller=self.caller, user=user, currency=query.validated_data.get("currency"))
        return Response(UserBalancesSerializer({"user": user.pk, "balances": balances}).data)


class DepositViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """Money arriving from outside the platform into a user's account."""

    serializer_class = MovementSerializer

    @extend_schema(request=MovementSerializer, responses={201: TransactionSerializer})
    @idempotent
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _created(deposit_create(**serializer.validated_data))


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class TransferViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Transfers between two user accounts of one client. End users send from their own
    accounts and may reverse transfers they received."""

    queryset = JournalEntry.objects.none()
    serializer_class = TransactionSerializer
    end_user_actions = {"list", "retrieve", "create", "reverse"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return transfer_list(caller=self.caller)

    @extend_schema(request=TransferCreateSerializer, responses={201: TransactionSerializer})
    @idempotent
    def create(self, request):
        serializer = TransferCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return _created(transfer_create(**serializer.validated_data))

    @extend_schema(request=ReverseSerializer, responses={201: TransactionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reverse(self, request, pk=None):
        transfer = access_transfer_to_reverse(caller=self.caller, entry_id=int(pk))
        serializer = ReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _created(transfer_reverse(entry=transfer, actor=self.caller.user, **serializer.validated_data))


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class TransactionViewSet(
    CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The journal: every entry in the caller's scope, with its postings."""

    queryset = JournalEntry.objects.none()
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    end_user_actions = {"list", "retrieve"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return entry_list(caller=self.caller)


