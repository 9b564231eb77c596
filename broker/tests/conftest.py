import pytest

from broker.models import Conversion, Order, Quote, RateHistory
from broker.services import rate_update
from ledger.models import Account, Currency, Hold, JournalEntry, Posting
from ledger.services import currency_authorization_grant, system_account_get
from tests.factories import ClientFactory, EndUserFactory, open_account

BTC_PRICE_E8 = 60_000 * 10**8  # 60,000.00 USD per BTC


@pytest.fixture
def tenant(db):
    return ClientFactory(fee_bps=50)


@pytest.fixture
def rates(db):
    rate_update(currency="BTC", price_e8=BTC_PRICE_E8, source="demo")
    rate_update(currency="ETH", price_e8=3_000 * 10**8, source="demo")
    return None


@pytest.fixture
def alice(tenant):
    """An end user authorized for BTC (not ETH)."""
    user = EndUserFactory(client=tenant)
    currency_authorization_grant(user=user, currency=Currency.objects.get(code="BTC"))
    return user


@pytest.fixture
def alice_usd(alice):
    """Alice's USD account holding 10,000.00."""
    return open_account(alice, "USD", deposit=1_000_000)


@pytest.fixture
def alice_btc(alice):
    """Alice's BTC account holding 0.5 BTC (authorized)."""
    return open_account(alice, "BTC", deposit=50_000_000)


@pytest.fixture
def btc(db):
    return Currency.objects.get(code="BTC")


@pytest.fixture
def eth(db):
    return Currency.objects.get(code="ETH")


@pytest.fixture
def usd(db):
    return Currency.objects.get(code="USD")


def balance(account: Account) -> tuple[int, int]:
    account.refresh_from_db()
    return account.balance, account.held


def system_balance(client, code: str, kind: str) -> int:
    return system_account_get(client=client, currency=code, kind=kind).balance


def world_state() -> dict:
    """Every balance, hold, journal row and brokerage row: equal before and after a rejection."""
    return {
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "balance", "held")),
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "holds": list(Hold.objects.order_by("pk").values_list("pk", "status")),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status")),
        "quotes": list(Quote.objects.order_by("pk").values_list("pk", "used_at")),
        "conversions": Conversion.objects.count(),
        "rates": RateHistory.objects.count(),
    }
