"""The events outbox and the webhooks that deliver it.

An `Event` is written by the service that makes a change, in the same transaction, so it exists
exactly when the change committed. Each event fans out to one `WebhookDelivery` per matching
enabled endpoint of its client, written in that transaction too: the delivery rows are the queue,
and the worker (or the `deliver_webhooks` sweep) works them until they succeed or run out of
retries. Every HTTP try is a `DeliveryAttempt`.
"""

import secrets
import time

from django.db import models
from django.db.models import Q
from django.utils import timezone

EVENT_ID_PREFIX = "evt_"


def event_public_id() -> str:
    """`evt_` and 32 hex digits: the milliseconds since the Unix epoch (12 digits), then 80 random
    bits (20 digits), as in a UUIDv7. Ids written later sort after earlier ones (within a
    millisecond, in any order), so each insert lands at the right edge of the unique index instead
    of a random page of it; the random part keeps them unique and unguessable."""
    return f"{EVENT_ID_PREFIX}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class Event(models.Model):
    """Something that happened to one client's data: `data` is the object as the API renders it."""

    class Type(models.TextChoices):
        TRANSACTION_CREATED = "transaction.created"
        ORDER_ACCEPTED = "order.accepted"
        ORDER_OPENED = "order.opened"
        ORDER_FILLED = "order.filled"
        ORDER_REJECTED = "order.rejected"
        ORDER_CANCELLED = "order.cancelled"
        ORDER_EXPIRED = "order.expired"
        WITHDRAWAL_PENDING_REVIEW = "withdrawal.pending_review"
        WITHDRAWAL_APPROVED = "withdrawal.approved"
        WITHDRAWAL_REJECTED = "withdrawal.rejected"
        USER_FROZEN = "user.frozen"
        USER_UNFROZEN = "user.unfrozen"
        USER_DEACTIVATED = "user.deactivated"
        QUOTE_CREATED = "quote.created"
        CONVERSION_CREATED = "conversion.created"
        WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
        CHAIN_DEPOSIT_DETECTED = "chain_deposit.detected"
        CHAIN_DEPOSIT_CREDITED = "chain_deposit.credited"

    # Unique by a constraint, not `unique=True`, which would add a second (pattern) index on
    # PostgreSQL that no query needs: ids are looked up whole.
    public_id = models.CharField(max_length=40, default=event_public_id, editable=False)
    type = models.CharField(max_length=50, choices=Type.choices)
    # Indexed by the feed's (client, id), which leads with the client.
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="events", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["public_id"], name="events_event_public_id_unique")]
        indexes = [
            # The feed: one client's events in id order, optionally of one type.
            models.Index(fields=["client", "id"], name="events_event_client_id"),
            models.Index(fields=["client", "type", "id"], name="events_event_client_type_id"),
            # Retention purges by age.
            models.Index(fields=["created_at"], name="events_event_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookEndpoint(models.Model):
    """A client's URL that receives its events, signed with the endpoint's secret.

    The secret is kept encrypted (events.secrets) because signing needs it back; it is shown in
    plain text only in the replies that create or rotate it. `failing_since` is the start of the
    current run of failed attempts (None after any success): a run longer than
    WEBHOOK_DISABLE_AFTER_HOURS disables the endpoint.
    """

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    # Empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    description = models.CharField(max_length=500, blank=True)
    is_enabled = models.BooleanField(default=True)
    encrypted_secret = models.TextField(editable=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["client", "is_enabled"], name="events_endpoint_client_enabled")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint. `next_attempt_at` is when it is next due (None once
    final); a worker that takes it pushes it forward by a lease first, so a worker killed
    mid-delivery leaves it due again a little later and it is re-sent with the same webhook-id."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    # Indexed by the unique (event, endpoint), which leads with the event.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="events_delivery_one_per_endpoint"),
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False)
                | (~Q(status="pending") & Q(next_attempt_at__isnull=True)),
                name="events_delivery_due_only_when_pending",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="events_delivery_due")]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event_id} to endpoint {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP try: its answer (status and the first 1 KB of the body) or the error, and how long
    it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True)
    is_success = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"
