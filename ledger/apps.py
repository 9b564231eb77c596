from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from events.registry import renderer_register
        from ledger.api.serializers import transaction_render_posted
        from ledger.models import JournalEntry

        # Events carry a journal entry as GET /transactions/{id}/ renders it.
        renderer_register(JournalEntry, transaction_render_posted)
