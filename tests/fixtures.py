"""The one fixtures plugin for the whole suite (registered in the root conftest).

Fixtures, one meaning each:
- `client_tenant`: a client (fee 50 bps); `alice`, `bob`: two of its end users (USD only);
  `alice_usd` holds 1,000.00 and `bob_usd` 250.00; `usd_funding`, the client's funding account.
- `usd`, `btc`, `eth`: the seeded currencies; `rates`: BTC at 60,000.00 and ETH at 3,000.00.
- `operations_user`, `compliance_user`, `read_only_user`, `superuser`: platform staff by role.
- `api`: a DRF test client; `tenant`, `other_tenant`: a whole API tenant (`Tenant`, real API key).
  App conftests may narrow a name for their tests (the brokerage's `alice` is also authorized for
  BTC); they say so where they do.

Helpers, to import from here (never from a conftest):
- `ledger_snapshot()`: everything a refused action must leave untouched, as one value.
- `rejected_with(code)`: expect a DomainError with `code` and an unchanged `ledger_snapshot()`.
- `balance(account)`: the account's (balance, held) as stored now.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.models import ApiKey, Client, User
from accounts.roles import COMPLIANCE, OPERATIONS, READ_ONLY
from accounts.services import api_key_create
from accounts.tokens import end_user_token_mint
from broker.models import Conversion, Order, Quote, RateHistory
from broker.services import OrderRequest, order_submit
from broker.services.quotes import quote_create
from broker.services.rates import rate_update
from core.errors import DomainError
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.services import webhook_endpoint_create
from ledger.models import Account, Currency, CurrencyAuthorization, Hold, JournalEntry, Posting
from ledger.services import system_account_get, transfer_create
from tests.factories import ClientFactory, EndUserFactory, PlatformStaffFactory, open_account

BTC_PRICE_E8 = 60_000 * 10**8  # 60,000.00 USD per BTC


@dataclass
class Tenant:
    """A client with an API key, one funded end user (USD 99.00 after a 1.00 transfer to the
    peer, BTC 1.00000000) and a peer with a USD account. The user has a BTC quote and a resting
    limit sell (0.01 BTC held). A webhook endpoint (registered first) has a pending delivery of
    every event."""

    client: Client
    api_key: ApiKey
    plaintext_key: str
    user: User
    usd: Account
    btc: Account
    peer: User
    peer_usd: Account
    transfer: JournalEntry
    quote: Quote
    order: Order
    webhook_endpoint: WebhookEndpoint
    webhook_delivery: WebhookDelivery
    event: Event

    @property
    def auth(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Api-Key {self.plaintext_key}"}


def make_tenant() -> Tenant:
    client = ClientFactory()
    api_key, plaintext = api_key_create(client=client, name="test")
    webhook_endpoint, _ = webhook_endpoint_create(client_id=client.pk, url="http://127.0.0.1:9/hooks")
    user = EndUserFactory(client=client)
    usd = open_account(user, "USD", deposit=100_00)
    btc = open_account(user, "BTC", deposit=1_00000000)
    peer = EndUserFactory(client=client)
    peer_usd = open_account(peer, "USD")
    transfer = transfer_create(from_account=usd, to_account=peer_usd, amount=1_00)
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    bitcoin = Currency.objects.get(code="BTC")
    quote = quote_create(user=user, side="buy", currency=bitcoin, quantity=1_000_000)
    order = order_submit(request=OrderRequest(
        user=user, side="sell", currency=bitcoin, type=Order.Type.LIMIT, quantity=1_000_000,
        limit_price_e8=1_000_000 * 10**8,
    ))
    usd.refresh_from_db()
    btc.refresh_from_db()
    peer_usd.refresh_from_db()
    return Tenant(
        client=client,
        api_key=api_key,
        plaintext_key=plaintext,
        user=user,
        usd=usd,
        btc=btc,
        peer=peer,
        peer_usd=peer_usd,
        transfer=transfer,
        quote=quote,
        order=order,
        webhook_endpoint=webhook_endpoint,
        webhook_delivery=WebhookDelivery.objects.filter(endpoint=webhook_endpoint).first(),
        event=Event.objects.filter(client=client).first(),
    )


def end_user_auth(user: User) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {end_user_token_mint(user=user)}"}


def ledger_snapshot() -> dict:
    """Everything a refused action must leave untouched: balances and holds, the journal, users
    and their authorizations, quotes, orders, conversions, rate history, events and webhooks."""
    return {
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "balance", "held", "is_active")),
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "holds": list(Hold.objects.order_by("pk").values_list("pk", "status")),
        "users": list(User.objects.order_by("pk").values_list("pk", "is_active", "is_frozen", "name", "email")),
        "authorizations": list(CurrencyAuthorization.objects.order_by("pk").values_list("user_id", "currency_id")),
        "quotes": list(Quote.objects.order_by("pk").values_list("pk", "used_at")),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status")),
        "conversions": Conversion.objects.count(),
        "rates": RateHistory.objects.count(),
        "events": Event.objects.count(),
        "webhook_endpoints": list(
            WebhookEndpoint.objects.order_by("pk").values_list("pk", "url", "is_enabled", "encrypted_secret")
        ),
        "webhook_deliveries": list(
            WebhookDelivery.objects.order_by("pk").values_list("pk", "status", "next_attempt_at")
        ),
    }


@contextmanager
def rejected_with(code: str):
    """Expect a DomainError with `code` and no change at all to what `ledger_snapshot` covers."""
    before = ledger_snapshot()
    with pytest.raises(DomainError) as caught:
        yield caught
    assert caught.value.code == code, f"expected {code!r}, got {caught.value.code!r}: {caught.value}"
    assert ledger_snapshot() == before


def balance(account: Account) -> tuple[int, int]:
    """The account's (balance, held) as stored now, not as cached on the instance."""
    return Account.objects.values_list("balance", "held").get(pk=account.pk)


def system_balance(client: Client | int, code: str, kind: str) -> int:
    return system_account_get(client=client, currency=code, kind=kind).balance


def staff_with_role(role: str) -> User:
    user = PlatformStaffFactory()
    user.groups.add(Group.objects.get(name=role))
    return user


# ---- one client, two end users, their USD accounts ---------------------------------------


@pytest.fixture
def client_tenant(db) -> Client:
    return ClientFactory(fee_bps=50)


@pytest.fixture
def alice(client_tenant) -> User:
    return EndUserFactory(client=client_tenant)


@pytest.fixture
def bob(client_tenant) -> User:
    return EndUserFactory(client=client_tenant)


@pytest.fixture
def alice_usd(alice) -> Account:
    """Alice's USD account holding 1,000.00."""
    return open_account(alice, "USD", deposit=100_000)


@pytest.fixture
def bob_usd(bob) -> Account:
    """Bob's USD account holding 250.00."""
    return open_account(bob, "USD", deposit=25_000)


@pytest.fixture
def usd_funding(client_tenant, alice_usd, bob_usd) -> Account:
    return system_account_get(client=client_tenant, currency="USD", kind=Account.Kind.FUNDING)


# ---- currencies and rates ------------------------------------------------------------------


@pytest.fixture
def usd(db) -> Currency:
    return Currency.objects.get(code="USD")


@pytest.fixture
def btc(db) -> Currency:
    return Currency.objects.get(code="BTC")


@pytest.fixture
def eth(db) -> Currency:
    return Currency.objects.get(code="ETH")


@pytest.fixture
def rates(db) -> None:
    rate_update(currency="BTC", price_e8=BTC_PRICE_E8, source="demo")
    rate_update(currency="ETH", price_e8=3_000 * 10**8, source="demo")


# ---- platform staff ------------------------------------------------------------------------


@pytest.fixture
def operations_user(db) -> User:
    return staff_with_role(OPERATIONS)


@pytest.fixture
def compliance_user(db) -> User:
    return staff_with_role(COMPLIANCE)


@pytest.fixture
def read_only_user(db) -> User:
    return staff_with_role(READ_ONLY)


@pytest.fixture
def superuser(db) -> User:
    return PlatformStaffFactory(is_superuser=True)


# ---- the API -------------------------------------------------------------------------------


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant()


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant()
