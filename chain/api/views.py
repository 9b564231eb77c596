"""Crypto rails under /api/v1/: deposit addresses, chain deposits, crypto withdrawals.

Client callers only (API keys, client staff, platform staff with a role): end users have no
rights here. Every read goes through a tenant-scoped selector; another client's object is 404.
"""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from accounts.models import User
from accounts.selectors import user_list
from chain.api.serializers import (
    ChainDepositSerializer,
    CryptoWithdrawalCreateSerializer,
    CryptoWithdrawalSerializer,
    DepositAddressCreatedSerializer,
    DepositAddressCreateSerializer,
    DepositAddressSerializer,
)
from chain.models import ChainDeposit, CryptoWithdrawal, DepositAddress
from chain.selectors import chain_deposit_list, crypto_withdrawal_list, deposit_address_list
from chain.services import crypto_withdrawal_cancel, crypto_withdrawal_submit, deposit_address_assign, network_asset_get
from core.api.fields import ID_PATTERN
from core.api.filters import CodeFilter, IdFilter
from core.api.idempotency import idempotent


class ChainDepositFilter(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    currency = CodeFilter(field_name="currency_id")
    status = django_filters.ChoiceFilter(choices=ChainDeposit.Status.choices)
    network = django_filters.CharFilter(field_name="network__code", max_length=30)

    class Meta:
        model = ChainDeposit
        fields = ["user", "currency", "status", "network"]


class CryptoWithdrawalFilter(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    currency = CodeFilter(field_name="account__currency_id")
    status = django_filters.ChoiceFilter(choices=CryptoWithdrawal.Status.choices)

    class Meta:
        model = CryptoWithdrawal
        fields = ["user", "currency", "status"]


class DepositAddressViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """A user's deposit addresses: one active per network, assigned on first request."""

    queryset = DepositAddress.objects.none()
    serializer_class = DepositAddressSerializer
    filterset_class = None

    def get_user(self) -> User:
        user = user_list(caller=self.caller).filter(pk=self.kwargs["user_pk"]).first()
        if user is None:
            raise NotFound("User not found.")
        return user

    @extend_schema(summary="The user's deposit addresses")
    def list(self, request, user_pk=None):
        page = self.paginate_queryset(deposit_address_list(caller=self.caller, user_id=self.get_user().pk))
        return self.get_paginated_response(DepositAddressSerializer(page, many=True).data)

    @extend_schema(
        request=DepositAddressCreateSerializer,
        responses={201: DepositAddressCreatedSerializer, 200: DepositAddressCreatedSerializer},
        summary="The user's address for a currency: assigned now (201) or the one it has (200)",
    )
    @idempotent
    def create(self, request, user_pk=None):
        user = self.get_user()
        serializer = DepositAddressCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        currency = serializer.validated_data["currency"]
        asset = network_asset_get(currency=currency, network_code=serializer.validated_data.get("network"))
        address, created = deposit_address_assign(user=user, asset=asset)
        data = DepositAddressCreatedSerializer(address, context={"currency": currency.code}).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class ChainDepositViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Transfers to users' deposit addresses, with their confirmations and explorer links."""

    queryset = ChainDeposit.objects.none()
    serializer_class = ChainDepositSerializer
    filterset_class = ChainDepositFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return chain_deposit_list(caller=self.caller).select_related("deposit_address")


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class CryptoWithdrawalViewSet(
    CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Withdrawals to external addresses: 202 at submission (amount + network fee held), then
    `broadcast` with a transaction hash, `confirmed` at the network's confirmations; or
    `failed` (undone by `compensating_transaction`), `rejected`, `cancelled`."""

    queryset = CryptoWithdrawal.objects.none()
    serializer_class = CryptoWithdrawalSerializer
    filterset_class = CryptoWithdrawalFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return crypto_withdrawal_list(caller=self.caller)

    @extend_schema(request=CryptoWithdrawalCreateSerializer, responses={202: CryptoWithdrawalSerializer})
    @idempotent
    def create(self, request):
        serializer = CryptoWithdrawalCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        withdrawal = crypto_withdrawal_submit(request=serializer.to_request())
        return Response(CryptoWithdrawalSerializer(withdrawal).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: CryptoWithdrawalSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        withdrawal = crypto_withdrawal_cancel(withdrawal=self.get_object())
        return Response(CryptoWithdrawalSerializer(withdrawal).data)
