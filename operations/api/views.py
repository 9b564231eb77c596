"""Withdrawals, which may wait for a Compliance decision, under /api/v1/.

The endpoint lives here, not in the ledger, because the decision to hold a withdrawal belongs
to the back office; the ledger stays ignorant of it (imports run operations → ledger).
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from core.api.fields import ID_PATTERN
from core.api.idempotency import idempotent
from ledger.api.serializers import MovementSerializer, TransactionSerializer
from ledger.selectors import entry_for_rendering
from operations.api.serializers import PendingWithdrawalSerializer
from operations.models import PendingWithdrawal
from operations.selectors import pending_withdrawal_list
from operations.services import withdrawal_submit


class WithdrawalViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """Money leaving the platform from a user's account: 201 with the transaction, or, above the
    platform's review threshold, 202 with a withdrawal held until Compliance approves or rejects
    it (GET /pending-withdrawals/{id}/ shows the outcome)."""

    serializer_class = MovementSerializer

    @extend_schema(
        request=MovementSerializer, responses={201: TransactionSerializer, 202: PendingWithdrawalSerializer}
    )
    @idempotent
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = withdrawal_submit(**serializer.validated_data)
        if isinstance(outcome, PendingWithdrawal):
            return Response(PendingWithdrawalSerializer(outcome).data, status=status.HTTP_202_ACCEPTED)
        return Response(
            TransactionSerializer(entry_for_rendering(entry=outcome), context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class PendingWithdrawalViewSet(
    CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Withdrawals held for compliance review, pending or decided."""

    queryset = PendingWithdrawal.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = PendingWithdrawalSerializer
    filterset_class = None
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return pending_withdrawal_list(caller=self.caller)
