"""Reads of events, endpoints and deliveries, scoped to the caller's client."""

from django.db.models import Prefetch, QuerySet

from accounts.callers import Caller, scope_to_caller
from events.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint


def event_list(*, caller: Caller) -> QuerySet[Event]:
    return scope_to_caller(Event.objects.all(), caller)


def webhook_endpoint_list(*, caller: Caller) -> QuerySet[WebhookEndpoint]:
    return scope_to_caller(WebhookEndpoint.objects.all(), caller)


def webhook_delivery_list(*, caller: Caller, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries to the caller's endpoints (to `endpoint` if given), with their attempts."""
    deliveries = scope_to_caller(WebhookDelivery.objects.all(), caller, client_field="endpoint__client")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint.pk)
    return deliveries.select_related("event").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("id"))
    )
