"""The brokerage's tests use the suite's fixtures (tests/fixtures.py), narrowed here: `tenant` is
the client itself, `alice` is also authorized for BTC (not ETH) and `alice_usd` holds 10,000.00."""

import pytest

from ledger.services import currency_authorization_grant
from tests.factories import open_account


@pytest.fixture
def tenant(client_tenant):
    return client_tenant


@pytest.fixture
def alice(alice, btc):
    """The suite's alice, authorized for BTC (not ETH)."""
    currency_authorization_grant(user=alice, currency=btc)
    return alice


@pytest.fixture
def alice_usd(alice):
    """Alice's USD account holding 10,000.00."""
    return open_account(alice, "USD", deposit=1_000_000)


@pytest.fixture
def alice_btc(alice):
    """Alice's BTC account holding 0.5 BTC (authorized)."""
    return open_account(alice, "BTC", deposit=50_000_000)
