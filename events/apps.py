from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and webhooks"

    def ready(self) -> None:
        from events.api.serializers import WebhookEndpointSerializer
        from events.models import WebhookEndpoint
        from events.registry import renderer_register

        renderer_register(WebhookEndpoint, lambda endpoint: WebhookEndpointSerializer(endpoint).data)
