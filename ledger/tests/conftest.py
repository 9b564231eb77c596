import pytest


@pytest.fixture(autouse=True)
def ledger_without_observers(settings):
    """The ledger core on its own: entry observers (compliance review …) are tested by their apps."""
    settings.LEDGER_ENTRY_OBSERVERS = []
