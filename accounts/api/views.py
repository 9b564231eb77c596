"""Users of a client (`/users/`), the end-user tokens a client mints for them, and the
platform's switch on a client (`/clients/{id}/deactivate/`, `/reactivate/`)."""

from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from accounts.api.filters import UserFilter
from accounts.api.permissions import ClientOnly
from accounts.api.serializers import (
    ClientSerializer,
    ClientStatusChangeSerializer,
    EndUserTokenRequestSerializer,
    EndUserTokenSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.models import Client, User
from accounts.selectors import (
    access_client_for_new_user,
    access_client_for_status_change,
    access_user_for_token,
    user_list,
)
from accounts.services import client_deactivate, client_reactivate, user_create, user_deactivate, user_update
from accounts.tokens import end_user_token_mint
from core.api.fields import ID_PATTERN
from core.api.idempotency import idempotent


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class UserViewSet(
    CallerViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A client's end users. End users see only themselves."""

    queryset = User.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = UserSerializer
    filterset_class = UserFilter
    end_user_actions = {"list", "retrieve"}
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return user_list(caller=self.caller)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    @idempotent
    def create(self, request):
        serializer = UserCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_create(
            client=access_client_for_new_user(caller=self.caller, named=data.get("client")),
            external_id=data["external_id"],
            email=data.get("email", ""),
            name=data.get("name", ""),
        )
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateSerializer, responses={200: UserSerializer})
    def partial_update(self, request, pk=None):
        user = self.get_object()
        serializer = UserUpdateSerializer(user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = user_update(user=user, **serializer.validated_data)
        return Response(UserSerializer(user).data)

    def destroy(self, request, pk=None):
        user_deactivate(user=self.get_object(), actor=self.caller.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=EndUserTokenRequestSerializer,
        responses={201: EndUserTokenSerializer},
        summary="Mint a short-lived token for one end user",
    )
    @action(detail=True, methods=["post"], permission_classes=[ClientOnly])
    def tokens(self, request, pk=None):
        user = access_user_for_token(caller=self.caller, user_id=int(pk))
        serializer = EndUserTokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = end_user_token_mint(user=user, minutes=serializer.validated_data.get("minutes"))
        expires_at = datetime.fromtimestamp(token["exp"], tz=UTC)
        return Response(
            EndUserTokenSerializer({"access": str(token), "expires_at": expires_at}).data,
            status=status.HTTP_201_CREATED,
        )


class ClientViewSet(CallerViewMixin, viewsets.GenericViewSet):
    """Platform staff (Operations role) deactivate and reactivate clients. A deactivated client's
    every credential is refused (401 `client_inactive`) until it is reactivated; nothing is revoked."""

    queryset = Client.objects.none()  # the model, for the schema; _client scopes
    serializer_class = ClientSerializer
    filterset_class = None
    pagination_class = None
    lookup_value_regex = r"[0-9]+"

    @extend_schema(request=ClientStatusChangeSerializer, responses={200: ClientSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        return self._change(request, pk, client_deactivate)

    @extend_schema(request=ClientStatusChangeSerializer, responses={200: ClientSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._change(request, pk, client_reactivate)

    def _change(self, request, pk, change):
        client = access_client_for_status_change(caller=self.caller, client_id=int(pk))
        serializer = ClientStatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = change(client=client, actor=self.caller.user, reason=serializer.validated_data["reason"])
        return Response(ClientSerializer(client).data)
