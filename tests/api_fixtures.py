"""Fixtures for API tests (registered in the root conftest): tenants with real API keys, and
helpers to call the API as each kind of caller."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Client, User
from accounts.services import api_key_create
from accounts.tokens import end_user_token_mint
from ledger.models import Account, JournalEntry, Posting
from tests.factories import ClientFactory, EndUserFactory, open_account


@dataclass
class Tenant:
    """A client with an API key and one funded end user (USD 100.00, BTC 1.00000000)."""

    client: Client
    api_key: ApiKey
    plaintext_key: str
    user: User
    usd: Account
    btc: Account

    @property
    def auth(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Api-Key {self.plaintext_key}"}


def make_tenant() -> Tenant:
    client = ClientFactory()
    api_key, plaintext = api_key_create(client=client, name="test")
    user = EndUserFactory(client=client)
    usd = open_account(user, "USD", deposit=100_00)
    btc = open_account(user, "BTC", deposit=1_00000000)
    return Tenant(client=client, api_key=api_key, plaintext_key=plaintext, user=user, usd=usd, btc=btc)


def end_user_auth(user: User) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {end_user_token_mint(user=user)}"}


def ledger_snapshot() -> tuple:
    """Everything a rejected request must leave untouched: balances, holds, entries, postings."""
    return (
        tuple(Account.objects.order_by("pk").values_list("pk", "balance", "held")),
        JournalEntry.objects.count(),
        Posting.objects.count(),
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
