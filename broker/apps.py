from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "Brokerage"

    def ready(self) -> None:
        from broker.api.serializers import ConversionSerializer, QuoteSerializer, order_render
        from broker.models import Conversion, Order, Quote
        from events.registry import renderer_register

        # Events carry orders, quotes and conversions as their GET endpoints render them.
        renderer_register(Order, order_render)
        renderer_register(Quote, lambda quote: QuoteSerializer(quote).data)
        renderer_register(Conversion, lambda conversion: ConversionSerializer(conversion).data)
