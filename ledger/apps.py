from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from events.registry import renderer_register
        from ledger.api.serializers import TransactionSerializer
        from ledger.models import JournalEntry
        from ledger.selectors import entry_for_rendering

        # Events carry a journal entry as GET /transactions/{id}/ renders it.
        renderer_register(JournalEntry, lambda entry: TransactionSerializer(entry_for_rendering(entry=entry)).data)
