"""Every endpoint, walked with every kind of outsider.

`ENDPOINTS` is the table: each entry builds its path and body from the *target* tenant's
objects. Add new endpoints (the brokerage's too) to the table; every test below then covers them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.fixtures import Tenant, end_user_auth, ledger_snapshot

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[Tenant], str]
    body: Callable[[Tenant], dict] | None = None
    # True when the request names one of the target tenant's objects (in the path or the body):
    # anyone outside that tenant must get 404.
    names_object: bool = True
    # What an end user of the target tenant who does not own the object gets: 403 when the action
    # is not theirs at all, 404 when it is but the object is someone else's, None when allowed.
    end_user_outsider: int | None = 404
    id: str = field(default="")
    # An all-or-none batch answers 422 `batch_item_refused` naming the refused item; the item's
    # own status (errors.status) is what the rules below check.
    is_batch: bool = False


ENDPOINTS = [
    Endpoint("GET", lambda t: "/api/v1/users/", names_object=False, end_user_outsider=None, id="users-list"),
    Endpoint("POST", lambda t: "/api/v1/users/", lambda t: {"external_id": "x-1"}, names_object=False,
             end_user_outsider=403, id="users-create"),
    Endpoint("GET", lambda t: f"/api/v1/users/{t.peer.pk}/", id="users-retrieve"),
    Endpoint("PATCH", lambda t: f"/api/v1/users/{t.peer.pk}/", lambda t: {"name": "X"}, end_user_outsider=403,
             id="users-update"),
    Endpoint("DELETE", lambda t: f"/api/v1/users/{t.peer.pk}/", end_user_outsider=403, id="users-delete"),
    Endpoint("GET", lambda t: f"/api/v1/users/{t.peer.pk}/balances/", id="users-balances"),
    Endpoint("POST", lambda t: f"/api/v1/users/{t.peer.pk}/tokens/", lambda t: {}, end_user_outsider=403,
             id="users-tokens"),
    Endpoint("GET", lambda t: "/api/v1/accounts/", names_object=False, end_user_outsider=None, id="accounts-list"),
    Endpoint("POST", lambda t: "/api/v1/accounts/", lambda t: {"user": t.peer.pk, "currency": "BTC"},
             end_user_outsider=403, id="accounts-create"),
    Endpoint("GET", lambda t: f"/api/v1/accounts/{t.peer_usd.pk}/", id="accounts-retrieve"),
    Endpoint("GET", lambda t: f"/api/v1/accounts/{t.peer_usd.pk}/transactions/", id="accounts-transactions"),
    Endpoint("GET", lambda t: "/api/v1/accounts/biggest/", names_object=False, end_user_outsider=403,
             id="accounts-biggest"),
    Endpoint("GET", lambda t: f"/api/v1/accounts/{t.peer_usd.pk}/balance/?as_of=2026-01-01T00:00:00Z",
             id="accounts-balance-as-of"),
    Endpoint("GET", lambda t: f"/api/v1/accounts/{t.peer_usd.pk}/statement/?from=2020-01-01T00:00:00Z",
             id="accounts-statement"),
    Endpoint("GET", lambda t: f"/api/v1/accounts/{t.peer_usd.pk}/statement/?from=2020-01-01T00:00:00Z&format=csv",
             id="accounts-statement-csv"),
    Endpoint("GET", lambda t: f"/api/v1/users/{t.peer.pk}/balances/?as_of=2026-01-01T00:00:00Z",
             id="users-balances-as-of"),
    Endpoint("GET", lambda t: "/api/v1/trial-balance/", names_object=False, end_user_outsider=403,
             id="trial-balance"),
    Endpoint("POST", lambda t: "/api/v1/deposits/", lambda t: {"account": t.peer_usd.pk, "amount": "1.00"},
             end_user_outsider=403, id="deposits-create"),
    Endpoint("POST", lambda t: "/api/v1/withdrawals/", lambda t: {"account": t.peer_usd.pk, "amount": "0.10"},
             end_user_outsider=403, id="withdrawals-create"),
    Endpoint("GET", lambda t: "/api/v1/pending-withdrawals/", names_object=False, end_user_outsider=403,
             id="pending-withdrawals-list"),
    Endpoint("GET", lambda t: "/api/v1/transfers/", names_object=False, end_user_outsider=None,
             id="transfers-list"),
    Endpoint("POST", lambda t: "/api/v1/transfers/",
             lambda t: {"from_account": t.peer_usd.pk, "to_account": t.usd.pk, "amount": "0.10"},
             id="transfers-create"),
    Endpoint("POST", lambda t: "/api/v1/transfers/batch/",
             lambda t: {"transfers": [{"from_account": t.peer_usd.pk, "to_account": t.usd.pk, "amount": "0.10"}]},
             is_batch=True, id="transfers-batch"),
    Endpoint("GET", lambda t: f"/api/v1/transfers/{t.transfer.pk}/", end_user_outsider=None,
             id="transfers-retrieve"),
    Endpoint("POST", lambda t: f"/api/v1/transfers/{t.transfer.pk}/reverse/", lambda t: {},
             end_user_outsider=None, id="transfers-reverse"),
    Endpoint("GET", lambda t: "/api/v1/transactions/", names_object=False, end_user_outsider=None,
             id="transactions-list"),
    Endpoint("GET", lambda t: f"/api/v1/transactions/{t.transfer.pk}/", end_user_outsider=None,
             id="transactions-retrieve"),
    # The brokerage: end-user tokens have no rights there at all (403), whoever owns the object.
    Endpoint("GET", lambda t: "/api/v1/currencies/", names_object=False, end_user_outsider=403,
             id="currencies-list"),
    Endpoint("GET", lambda t: "/api/v1/rates/", names_object=False, end_user_outsider=403, id="rates-list"),
    Endpoint("GET", lambda t: "/api/v1/rates/BTC/history/", names_object=False, end_user_outsider=403,
             id="rates-history"),
    Endpoint("GET", lambda t: f"/api/v1/users/{t.user.pk}/currencies/", end_user_outsider=403,
             id="user-currencies-list"),
    Endpoint("POST", lambda t: f"/api/v1/users/{t.user.pk}/currencies/", lambda t: {"currency": "ETH"},
             end_user_outsider=403, id="user-currencies-grant"),
    Endpoint("DELETE", lambda t: f"/api/v1/users/{t.user.pk}/currencies/BTC/", end_user_outsider=403,
             id="user-currencies-revoke"),
    Endpoint("GET", lambda t: f"/api/v1/users/{t.user.pk}/positions/", end_user_outsider=403,
             id="user-positions"),
    Endpoint("POST", lambda t: "/api/v1/quotes/",
             lambda t: {"user": t.user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"},
             end_user_outsider=403, id="quotes-create"),
    Endpoint("GET", lambda t: f"/api/v1/quotes/{t.quote.pk}/", end_user_outsider=403, id="quotes-retrieve"),
    Endpoint("GET", lambda t: "/api/v1/orders/", names_object=False, end_user_outsider=403, id="orders-list"),
    Endpoint("POST", lambda t: "/api/v1/orders/",
             lambda t: {"user": t.user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"},
             end_user_outsider=403, id="orders-create"),
    Endpoint("GET", lambda t: f"/api/v1/orders/{t.order.pk}/", end_user_outsider=403, id="orders-retrieve"),
    Endpoint("POST", lambda t: f"/api/v1/orders/{t.order.pk}/cancel/", lambda t: {}, end_user_outsider=403,
             id="orders-cancel"),
    Endpoint("POST", lambda t: "/api/v1/conversions/",
             lambda t: {"user": t.user.pk, "from_currency": "USD", "to_currency": "BTC", "amount": "1.00"},
             end_user_outsider=403, id="conversions-create"),
    Endpoint("POST", lambda t: f"/api/v1/clients/{t.client.pk}/deactivate/", lambda t: {"reason": "x"},
             end_user_outsider=403, id="clients-deactivate"),
    Endpoint("POST", lambda t: f"/api/v1/clients/{t.client.pk}/reactivate/", lambda t: {"reason": "x"},
             end_user_outsider=403, id="clients-reactivate"),
    # Crypto rails: client callers only.
    Endpoint("GET", lambda t: f"/api/v1/users/{t.peer.pk}/deposit-addresses/", end_user_outsider=403,
             id="deposit-addresses-list"),
    Endpoint("POST", lambda t: f"/api/v1/users/{t.peer.pk}/deposit-addresses/", lambda t: {"currency": "BTC"},
             end_user_outsider=403, id="deposit-addresses-create"),
    Endpoint("GET", lambda t: "/api/v1/chain-deposits/", names_object=False, end_user_outsider=403,
             id="chain-deposits-list"),
    Endpoint("GET", lambda t: "/api/v1/crypto-withdrawals/", names_object=False, end_user_outsider=403,
             id="crypto-withdrawals-list"),
    Endpoint("POST", lambda t: "/api/v1/crypto-withdrawals/",
             lambda t: {"account": t.btc.pk, "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                        "amount": "0.001"},
             end_user_outsider=403, id="crypto-withdrawals-create"),
    # Events and webhooks: the client's integration only; end-user tokens get 403.
    Endpoint("GET", lambda t: "/api/v1/events/", names_object=False, end_user_outsider=403, id="events-list"),
    Endpoint("GET", lambda t: f"/api/v1/events/{t.event.public_id}/", end_user_outsider=403, id="events-retrieve"),
    Endpoint("GET", lambda t: "/api/v1/webhook-endpoints/", names_object=False, end_user_outsider=403,
             id="webhook-endpoints-list"),
    Endpoint("POST", lambda t: "/api/v1/webhook-endpoints/", lambda t: {"url": "http://127.0.0.1:9/new"},
             names_object=False, end_user_outsider=403, id="webhook-endpoints-create"),
    Endpoint("GET", lambda t: f"/api/v1/webhook-endpoints/{t.webhook_endpoint.pk}/", end_user_outsider=403,
             id="webhook-endpoints-retrieve"),
    Endpoint("PATCH", lambda t: f"/api/v1/webhook-endpoints/{t.webhook_endpoint.pk}/",
             lambda t: {"is_enabled": False}, end_user_outsider=403, id="webhook-endpoints-update"),
    Endpoint("DELETE", lambda t: f"/api/v1/webhook-endpoints/{t.webhook_endpoint.pk}/", end_user_outsider=403,
             id="webhook-endpoints-delete"),
    Endpoint("POST", lambda t: f"/api/v1/webhook-endpoints/{t.webhook_endpoint.pk}/rotate-secret/", lambda t: {},
             end_user_outsider=403, id="webhook-endpoints-rotate-secret"),
    Endpoint("GET", lambda t: f"/api/v1/webhook-endpoints/{t.webhook_endpoint.pk}/deliveries/",
             end_user_outsider=403, id="webhook-endpoints-deliveries"),
    Endpoint("GET", lambda t: f"/api/v1/webhook-deliveries/{t.webhook_delivery.pk}/", end_user_outsider=403,
             id="webhook-deliveries-retrieve"),
    Endpoint("POST", lambda t: f"/api/v1/webhook-deliveries/{t.webhook_delivery.pk}/retry/", lambda t: {},
             end_user_outsider=403, id="webhook-deliveries-retry"),
]


def call(api, endpoint: Endpoint, target: Tenant, **auth):
    kwargs = {"format": "json"} if endpoint.body is not None else {}
    data = endpoint.body(target) if endpoint.body is not None else None
    return getattr(api, endpoint.method.lower())(endpoint.path(target), data, **kwargs, **auth)


def answer(endpoint: Endpoint, response) -> tuple[int, str | None]:
    """The status and code the caller got: for a batch refused at an item, that item's."""
    body = response.json() if response["Content-Type"].endswith("json") and response.content else {}
    if endpoint.is_batch and response.status_code == 422 and body.get("code") == "batch_item_refused":
        return body["errors"]["status"], body["errors"]["code"]
    return response.status_code, body.get("code") if isinstance(body, dict) else None


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_anonymous_caller_gets_401_and_changes_nothing(api, tenant, endpoint):
    # given
    before = ledger_snapshot()
    # when
    response = call(api, endpoint, tenant)
    # then
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert ledger_snapshot() == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.names_object], ids=lambda e: e.id)
def test_another_clients_key_gets_404_and_changes_nothing(api, tenant, other_tenant, endpoint):
    # given: other_tenant's key aimed at tenant's objects
    before = ledger_snapshot()
    # when
    response = call(api, endpoint, tenant, **other_tenant.auth)
    # then
    status, code = answer(endpoint, response)
    assert status == 404, response.content
    assert code in ("not_found", "account_not_found")
    assert ledger_snapshot() == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.names_object], ids=lambda e: e.id)
def test_another_clients_end_user_gets_404_or_403_and_changes_nothing(api, tenant, other_tenant, endpoint):
    # given
    before = ledger_snapshot()
    # when
    response = call(api, endpoint, tenant, **end_user_auth(other_tenant.user))
    # then: never data — 403 where the action is not an end user's at all, 404 otherwise
    assert answer(endpoint, response)[0] == (403 if endpoint.end_user_outsider == 403 else 404), response.content
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.end_user_outsider is not None], ids=lambda e: e.id
)
def test_end_user_outside_its_rights_is_refused_and_changes_nothing(api, tenant, endpoint):
    # given: the tenant's end user reaching for the peer's objects, or for client-only actions
    before = ledger_snapshot()
    # when
    response = call(api, endpoint, tenant, **end_user_auth(tenant.user))
    # then
    assert answer(endpoint, response)[0] == endpoint.end_user_outsider, response.content
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/", "/api/v1/accounts/", "/api/v1/transfers/", "/api/v1/transactions/", "/api/v1/events/",
     "/api/v1/webhook-endpoints/"],
)
def test_lists_never_show_another_clients_rows(api, tenant, other_tenant, path):
    # when
    response = api.get(path, **other_tenant.auth)
    # then
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids
    assert not ids & _ids_of(tenant, path)


def test_biggest_never_shows_another_clients_accounts(api, tenant, other_tenant):
    response = api.get("/api/v1/accounts/biggest/", **other_tenant.auth)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()} <= {other_tenant.usd.pk, other_tenant.btc.pk}


def _ids_of(tenant: Tenant, path: str) -> set:
    if "events" in path:
        return set(tenant.client.events.values_list("public_id", flat=True))
    if "webhook-endpoints" in path:
        return {tenant.webhook_endpoint.pk}
    if "users" in path:
        return {tenant.user.pk, tenant.peer.pk}
    if "accounts" in path:
        return {tenant.usd.pk, tenant.btc.pk, tenant.peer_usd.pk}
    return {tenant.transfer.pk}
