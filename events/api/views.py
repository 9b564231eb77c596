"""Events and webhooks under /api/v1/: the events feed, endpoints, deliveries and retries.

For a client's own API keys and staff (and platform staff, read-only without the Operations
role); end-user tokens have no rights here (403). Everything is scoped to the caller's client:
another client's event, endpoint or delivery is 404.
"""

import functools

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.api.base import CLIENT_PARAMETER, CallerViewMixin
from core.api.idempotency import idempotent
from events.api.serializers import (
    EventSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
    WebhookEndpointWriteSerializer,
)
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.selectors import event_list, webhook_delivery_list, webhook_endpoint_list
from events.services import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)

ID_PATTERN = r"[0-9]+"


class OldestFirstCursorPagination(CursorPagination):
    """The events feed in the order events were written (by id; created_at can tie). An event
    appears when its transaction commits, which may be just after a later-written one: clients
    catching up re-read a short window before their last event and skip ids already seen."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 200


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=Event.Type.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gt")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["type", "created_after", "created_before"]


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class EventViewSet(CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """What happened to the client's data, oldest first. Each event's `data` is the object as its
    own endpoint renders it; webhooks deliver the same JSON."""

    queryset = Event.objects.none()
    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = OldestFirstCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "pk"
    lookup_value_regex = r"evt_[0-9a-f]{1,64}"

    def get_queryset(self):
        return event_list(caller=self.caller)


def _shows_secret_once(handler):
    """Outermost on create and rotate-secret: the plaintext secret is added to the reply after
    `@idempotent` has stored it, so it is never written to the database; a replay answers
    `secret: null`."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        view.issued_secret = None
        response = handler(view, request, *args, **kwargs)
        if isinstance(response.data, dict) and "secret" in response.data:
            response.data["secret"] = view.issued_secret
        return response

    return wrapper


@extend_schema_view(list=extend_schema(parameters=[CLIENT_PARAMETER]))
class WebhookEndpointViewSet(
    CallerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """URLs that receive the client's events, signed (Standard Webhooks)."""

    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    filterset_class = None
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return webhook_endpoint_list(caller=self.caller)

    @extend_schema(request=WebhookEndpointWriteSerializer, responses={201: WebhookEndpointWithSecretSerializer})
    @_shows_secret_once
    @idempotent
    def create(self, request):
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if self.caller.client_id is None:
            raise ValidationError({"client": ["Platform staff must name the client with ?client=<id>."]})
        endpoint, secret = webhook_endpoint_create(
            client_id=self.caller.client_id,
            url=data["url"],
            event_types=data.get("event_types"),
            description=data.get("description", ""),
            actor=self.caller.user,
        )
        if data.get("is_enabled") is False:
            endpoint = webhook_endpoint_update(endpoint=endpoint, is_enabled=False, actor=self.caller.user)
        self.issued_secret = secret
        return Response(
            {**WebhookEndpointSerializer(endpoint).data, "secret": None}, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=WebhookEndpointWriteSerializer, responses={200: WebhookEndpointSerializer})
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        serializer = WebhookEndpointWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, actor=self.caller.user, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def destroy(self, request, pk=None):
        webhook_endpoint_delete(endpoint=self.get_object(), actor=self.caller.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookEndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @_shows_secret_once
    @idempotent
    def rotate_secret(self, request, pk=None):
        _body_check(request)
        endpoint, secret = webhook_endpoint_rotate_secret(endpoint=self.get_object(), actor=self.caller.user)
        self.issued_secret = secret
        return Response({**WebhookEndpointSerializer(endpoint).data, "secret": None})

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = self.paginate_queryset(webhook_delivery_list(caller=self.caller, endpoint=endpoint))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryViewSet(CallerViewMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One delivery of an event to an endpoint, with every attempt."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    filterset_class = None
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return webhook_delivery_list(caller=self.caller)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def retry(self, request, pk=None):
        _body_check(request)
        delivery = webhook_delivery_retry(delivery=self.get_object())
        return Response(
            WebhookDeliverySerializer(webhook_delivery_list(caller=self.caller).get(pk=delivery.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


def _body_check(request) -> None:
    """These actions take no fields, but a body they are sent is parsed like on every other POST,
    so one the API would never store (nested too deep, unstorable text) is a 400, not ignored."""
    serializers.Serializer(data=request.data).is_valid(raise_exception=True)
