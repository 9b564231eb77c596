"""Events and webhook endpoints as the API renders them. An endpoint's secret is rendered only by
the create and rotate-secret replies, from the plain text the service returns (never from a row)."""

from rest_framework import serializers

from events.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint


class EventSerializer(serializers.ModelSerializer):
    """One event: `data` is the object as its own endpoint renders it (a transaction, an order …)."""

    id = serializers.CharField(source="public_id", read_only=True, help_text="evt_…; the webhook-id header.")
    type = serializers.ChoiceField(choices=Event.Type.choices, read_only=True)
    data = serializers.JSONField(read_only=True)  # type: ignore[assignment]  # the field, not Serializer.data

    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "data"]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.choices), read_only=True,
        help_text="The event types sent here; empty means every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "event_types", "description", "is_enabled", "created_at", "updated_at", "disabled_at"]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="whsec_…, shown in this reply only (null when an Idempotency-Key replays it).",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.choices), required=False, allow_empty=True, max_length=50
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    is_enabled = serializers.BooleanField(required=False)


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "response_status", "error", "latency_ms", "response_body", "is_success"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.public_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True, help_text="Every attempt, oldest first.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event", "event_type", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at",
            "delivered_at", "created_at", "attempt_log",
        ]
        read_only_fields = fields
