from django.apps import AppConfig


class ChainConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chain"
    verbose_name = "Crypto rails"

    def ready(self) -> None:
        from chain.api.serializers import ChainDepositSerializer
        from chain.models import ChainDeposit
        from events.registry import renderer_register

        # Events carry a chain deposit as GET /chain-deposits/ renders it.
        renderer_register(ChainDeposit, lambda deposit: ChainDepositSerializer(deposit).data)
