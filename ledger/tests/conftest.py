import pytest

from ledger.models import Account, Currency
from ledger.services import system_account_get
from tests.factories import ClientFactory, EndUserFactory, open_account


@pytest.fixture(autouse=True)
def ledger_without_observers(settings):
    """The ledger core on its own: entry observers (compliance review …) are tested by their apps."""
    settings.LEDGER_ENTRY_OBSERVERS = []


@pytest.fixture
def client_tenant(db):
    return ClientFactory()


@pytest.fixture
def alice(client_tenant):
    return EndUserFactory(client=client_tenant)


@pytest.fixture
def bob(client_tenant):
    return EndUserFactory(client=client_tenant)


@pytest.fixture
def alice_usd(alice):
    """Alice's USD account holding 1,000.00."""
    return open_account(alice, "USD", deposit=100_000)


@pytest.fixture
def bob_usd(bob):
    """Bob's USD account holding 250.00."""
    return open_account(bob, "USD", deposit=25_000)


@pytest.fixture
def usd_funding(client_tenant, alice_usd, bob_usd):
    return system_account_get(client=client_tenant, currency="USD", kind=Account.Kind.FUNDING)


@pytest.fixture
def btc(db):
    return Currency.objects.get(code="BTC")
