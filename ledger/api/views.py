"""Accounts, balances, money movements and the journal, under /api/v1/.

Each view authenticates (settings), validates with a serializer, calls one service or selector
and renders. Money-moving and creating POSTs are `@idempotent`. Withdrawals are served by
operations.api: above a configured value they wait for Compliance, which the ledger does not know.
"""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from accounts.api.permissions import CallerPermission
from accounts.models import User
from accounts.selectors import user_list
from core.api.exceptions import domain_error_response
from core.api.fields import ID_PATTERN, MAX_ID
from core.api.idempotency import idempotent
from ledger.api.fields import AmountField
from ledger.api.filters import AccountFilter, TransactionFilter
from ledger.api.pagination import HistoryCursorPagination
from ledger.api.renderers import CSVRenderer, Echo
from ledger.api.serializers import (
    AccountBalanceSerializer,
    AccountCreateSerializer,
    AccountSerializer,
    AsOfQuerySerializer,
    BalanceQuerySerializer,
    MovementSerializer,
    ReverseSerializer,
    StatementEntrySerializer,
    StatementQuerySerializer,
    StatementSerializer,
    TransactionSerializer,
    TransferBatchRequestSchema,
    TransferBatchResultSerializer,
    TransferBatchSerializer,
    TransferCreateSerializer,
    TrialBalanceLineSerializer,
    UserBalancesSerializer,
    transfer_request_parse,
    user_balances_represent,
)
from ledger.history import (
    Statement,
    account_balance_as_of,
    balance_list_as_of,
    statement_get,
    statement_posting_list,
    trial_balance,
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
from ledger.services import (
    TransferOutcome,
    account_create,
    deposit_create,
    transfer_batch_create,
    transfer_create,
    transfer_reverse,
)

AS_OF_PARAMETER = OpenApiParameter(
    "as_of", OpenApiTypes.DATETIME, description="ISO 8601 instant with its offset (…Z, …%2B02:00); now if absent."
)
STATEMENT_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, required=True, description="Start (inclusive), with offset."),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (exclusive), with offset; now if absent."),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv streams every entry (or Accept: text/csv)."),
]


STATEMENT_SCHEMA = inline_serializer(
    name="Statement",
    fields={
        "account": serializers.IntegerField(),
        "currency": serializers.CharField(),
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "opening_balance": AmountField(),
        "closing_balance": AmountField(),
        "total_credits": AmountField(),
        "total_debits": AmountField(help_text="Positive: the sum of the debits' absolute values."),
        "entries": StatementEntrySerializer(many=True),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
    },
)


def _created(entry, view) -> Response:
    # The same transaction object GET /transactions/{id}/ returns (a new entry is not reversed yet),
    # rendered from the postings the service left in memory.
    return Response(
        TransactionSerializer(entry_for_rendering(entry=entry), context=view.get_serializer_context()).data,
        status=status.HTTP_201_CREATED,
    )


class StatementPagination(CursorPagination):
    """Keyset pagination on the account's posting sequence: every page is one probe of the
    unique index (account, sequence), at any depth."""

    ordering = "sequence"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class AccountViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users' accounts: one per user per currency."""

    queryset = Account.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    end_user_actions = {"list", "retrieve", "transactions", "balance", "statement"}
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
    @action(detail=True, methods=["get"], pagination_class=HistoryCursorPagination)
    def transactions(self, request, pk=None):
        account = self.get_object()
        page = self.paginate_queryset(entry_list(caller=self.caller, account=account))
        return self.get_paginated_response(
            TransactionSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(parameters=[AS_OF_PARAMETER], responses={200: AccountBalanceSerializer}, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def balance(self, request, pk=None):
        """The account's balance and available amount as of an instant (one index probe)."""
        account = self.get_object()
        query = AsOfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = account_balance_as_of(account=account, as_of=query.validated_data.get("as_of"))
        return Response(AccountBalanceSerializer(result).data)

    @extend_schema(
        parameters=STATEMENT_PARAMETERS,
        responses={
            (200, "application/json"): STATEMENT_SCHEMA,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Header row, then one row per entry."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=StatementPagination,
        filterset_class=None,
        renderer_classes=[JSONRenderer, BrowsableAPIRenderer, CSVRenderer],
    )
    def statement(self, request, pk=None):
        """Opening and closing balances, credits and debits over [from, to), and the entries
        with the balance after each: JSON pages, or the whole period streamed as CSV."""
        account = self.get_object()
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        statement = statement_get(account=account, start=period["start"], end=period.get("end") or timezone.now())
        if request.accepted_renderer.format == "csv":
            return _statement_csv(statement)
        page = self.paginate_queryset(statement_posting_list(statement=statement))
        data = StatementSerializer(statement).data
        data["entries"] = StatementEntrySerializer(page, many=True).data
        data["next"] = self.paginator.get_next_link()
        data["previous"] = self.paginator.get_previous_link()
        return Response(data)

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
        parameters=[
            OpenApiParameter("currency", str, description="Narrow to one currency (zero when no account)."),
            AS_OF_PARAMETER,
        ],
        responses={200: UserBalancesSerializer},
    )
    def retrieve(self, request, pk=None):
        query = BalanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        currency, as_of = query.validated_data.get("currency"), query.validated_data.get("as_of")
        if as_of is not None:
            user = self.get_object()
            balances = balance_list_as_of(caller=self.caller, user=user, as_of=as_of, currency=currency)
            return Response(user_balances_represent(user=user.pk, as_of=as_of, balances=balances))
        user_id = int(pk)
        balances = None
        if user_id <= MAX_ID:  # a larger id names nobody (and would not fit the column)
            balances = balance_list(caller=self.caller, user_id=user_id, currency=currency)
        if balances is None:
            raise NotFound("User not found.")
        return Response(user_balances_represent(user=user_id, balances=balances))


class DepositViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """Money arriving from outside the platform into a user's account."""

    serializer_class = MovementSerializer

    @extend_schema(request=MovementSerializer, responses={201: TransactionSerializer})
    @idempotent(reply_to_entry=_created)
    def create(self, request):  # answered by _created(entry)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return deposit_create(**serializer.validated_data)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class TransferViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Transfers between two user accounts of one client, one at a time or in batches. End users
    send from their own accounts and may reverse transfers they received."""

    queryset = JournalEntry.objects.none()
    serializer_class = TransactionSerializer
    end_user_actions = {"list", "retrieve", "create", "batch", "reverse"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return transfer_list(caller=self.caller)

    @extend_schema(request=TransferCreateSerializer, responses={201: TransactionSerializer})
    @idempotent(reply_to_entry=_created)
    def create(self, request):  # answered by _created(entry)
        transfer = transfer_request_parse(request.data, context=self.get_serializer_context())
        return transfer_create(
            from_account=transfer.from_account, to_account=transfer.to_account, amount=transfer.amount,
            reference=transfer.reference, metadata=transfer.metadata,
        )

    @extend_schema(
        request=TransferBatchRequestSchema,
        responses={201: TransferBatchResultSerializer, 207: TransferBatchResultSerializer},
        summary="Many transfers at once: all or none (201), or each on its own (207)",
    )
    @action(detail=False, methods=["post"])
    @idempotent
    def batch(self, request):
        serializer = TransferBatchSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        atomic = serializer.validated_data["atomic"]
        outcomes = transfer_batch_create(transfers=serializer.transfer_requests(), atomic=atomic)
        context = self.get_serializer_context()
        results = [_batch_result(outcome, context) for outcome in outcomes]
        answer = status.HTTP_201_CREATED if atomic else status.HTTP_207_MULTI_STATUS
        return Response({"results": results}, status=answer)

    @extend_schema(request=ReverseSerializer, responses={201: TransactionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reverse(self, request, pk=None):
        transfer = access_transfer_to_reverse(caller=self.caller, entry_id=int(pk))
        serializer = ReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _created(transfer_reverse(entry=transfer, actor=self.caller.user, **serializer.validated_data), self)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class TransactionViewSet(
    CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The journal: every entry in the caller's scope, with its postings."""

    queryset = JournalEntry.objects.none()
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    pagination_class = HistoryCursorPagination
    end_user_actions = {"list", "retrieve"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return entry_list(caller=self.caller)


def _batch_result(outcome: TransferOutcome, context: dict) -> dict:
    if outcome.error is not None:
        problem = domain_error_response(outcome.error).data
        return {"index": outcome.index, "status": outcome.error.status, "error": problem}
    transaction = TransactionSerializer(outcome.entry, context=context).data  # from the postings in memory
    return {"index": outcome.index, "status": status.HTTP_201_CREATED, "transaction": transaction}


class PlatformStaffOnly(BasePermission):
    message = "Only platform staff may read the trial balance."

    def has_permission(self, request, view) -> bool:
        return getattr(request.auth, "is_platform_staff", False)


class TrialBalanceViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """Platform staff: per client and currency, the system accounts and the sum of the users'
    accounts, which add up to zero (`?client=<id>` for one client)."""

    permission_classes = [CallerPermission, PlatformStaffOnly]
    queryset = Account.objects.none()  # the model, for the schema
    serializer_class = TrialBalanceLineSerializer
    pagination_class = None
    filterset_class = None

    @extend_schema(parameters=[CLIENT_PARAMETER], responses={200: TrialBalanceLineSerializer(many=True)})
    def list(self, request):
        return Response(TrialBalanceLineSerializer(trial_balance(client_id=self.caller.client_id), many=True).data)


def _statement_csv(statement: Statement) -> StreamingHttpResponse:
    """Every entry of the statement as CSV, streamed: rows are read in chunks and written as they
    go, so memory stays constant whatever the length. Same values as the JSON entries, except
    that a reference starting with a spreadsheet formula character is prefixed with `'`."""
    row_serializer = StatementEntrySerializer()
    header = StatementEntrySerializer.csv_header
    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow(header)
        for posting in statement_posting_list(statement=statement).iterator(chunk_size=2000):
            data = row_serializer.to_representation(posting)
            if data["reference"][:1] in ("=", "+", "-", "@", "\t", "\r"):
                data["reference"] = "'" + data["reference"]
            yield writer.writerow([data[column] for column in header])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"statement-{statement.account.pk}-{statement.start:%Y%m%dT%H%M%S}-{statement.end:%Y%m%dT%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


