"""Fixtures for API tests (registered in the root conftest): tenants with real API keys, and
helpers to call the API as each kind of caller."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Client, User
from accounts.services import api_key_create
from accounts.tokens import end_user_token_mint
from broker.models import Order, Quote
from broker.services.orders import order_submit
from broker.services.quotes import quote_create
from broker.services.rates import rate_update
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.services import webhook_endpoint_create
from ledger.models import Account, Currency, CurrencyAuthorization, JournalEntry, Posting
from ledger.services import transfer_create
from tests.factories import ClientFactory, EndUserFactory, open_account


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
    order = order_submit(
        user=user, side="sell", currency=bitcoin, type=Order.Type.LIMIT, quantity=1_000_000,
        limit_price_e8=1_000_000 * 10**8,
    )
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


def ledger_snapshot() -> tuple:
    """Everything a rejected request must leave untouched: balances, holds, entries, postings,
    users, currency authorizations, quotes, orders, events and webhooks."""
    return (
        tuple(Account.objects.order_by("pk").values_list("pk", "balance", "held")),
        JournalEntry.objects.count(),
        Posting.objects.count(),
        tuple(User.objects.order_by("pk").values_list("pk", "is_active", "name", "email")),
        tuple(CurrencyAuthorization.objects.order_by("pk").values_list("user_id", "currency_id")),
        Quote.objects.count(),
        tuple(Order.objects.order_by("pk").values_list("pk", "status")),
        Event.objects.count(),
        tuple(WebhookEndpoint.objects.order_by("pk").values_list("pk", "url", "is_enabled", "encrypted_secret")),
        tuple(WebhookDelivery.objects.order_by("pk").values_list("pk", "status", "next_attempt_at")),
    )


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant()


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant()
