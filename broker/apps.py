from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "Brokerage"

    def ready(self) -> None:
        from broker.api.serializers import ConversionSerializer, OrderSerializer, QuoteSerializer
        from broker.models import Conversion, Order, Quote
        from events.registry import renderer_register

        # Events carry orders, quotes and conversions as their GET endpoints render them.
        renderer_register(Order, lambda order: OrderSerializer(order).data)
        renderer_register(Quote, lambda quote: QuoteSerializer(quote).data)
        renderer_register(Conversion, lambda conversion: ConversionSerializer(conversion).data)
