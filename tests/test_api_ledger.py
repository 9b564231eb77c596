import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import Account, JournalEntry
from tests.factories import EndUserFactory, open_account
from tests.fixtures import end_user_auth, ledger_snapshot

pytestmark = pytest.mark.django_db


def test_create_account_once_per_user_and_currency(api, tenant):
    # when
    created = api.post("/api/v1/accounts/", {"user": tenant.peer.pk, "currency": "btc"}, format="json", **tenant.auth)
    duplicate = api.post("/api/v1/accounts/", {"user": tenant.peer.pk, "currency": "BTC"}, format="json", **tenant.auth)
    # then
    assert created.status_code == 201
    assert created.json() | {"id": 0, "created_at": ""} == {
        "id": 0, "user": tenant.peer.pk, "currency": "BTC", "balance": "0.00000000", "available": "0.00000000",
        "created_at": "",
    }
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "already_exists"
    assert Account.objects.filter(user=tenant.peer, currency_id="BTC").count() == 1


def test_unknown_currency_is_400_unknown_currency(api, tenant):
    response = api.post("/api/v1/accounts/", {"user": tenant.peer.pk, "currency": "XXX"}, format="json", **tenant.auth)
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_currency"


def test_list_and_retrieve_accounts_with_filters(api, tenant):
    by_user = api.get(f"/api/v1/accounts/?user={tenant.user.pk}", **tenant.auth).json()["results"]
    by_currency = api.get("/api/v1/accounts/?currency=btc", **tenant.auth).json()["results"]
    one = api.get(f"/api/v1/accounts/{tenant.usd.pk}/", **tenant.auth).json()
    assert {row["id"] for row in by_user} == {tenant.usd.pk, tenant.btc.pk}
    assert [row["id"] for row in by_currency] == [tenant.btc.pk]
    assert (one["balance"], one["available"], one["currency"], one["user"]) == ("99.00", "99.00", "USD", tenant.user.pk)


def test_deposit_withdraw_transfer_and_reverse_move_money(api, tenant):
    # when
    deposit = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "10.50", "reference": "wire-1",
                                             "metadata": {"bank": "x"}}, format="json", **tenant.auth)
    withdrawal = api.post("/api/v1/withdrawals/", {"account": tenant.usd.pk, "amount": 0.5}, format="json",
                          **tenant.auth)
    transfer = api.post("/api/v1/transfers/", {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk,
                                               "amount": "5"}, format="json", **tenant.auth)
    reverse = api.post(f"/api/v1/transfers/{transfer.json()['id']}/reverse/", {}, format="json", **tenant.auth)
    # then
    assert [r.status_code for r in (deposit, withdrawal, transfer, reverse)] == [201, 201, 201, 201]
    assert deposit.json() | {"id": 0, "created_at": "", "postings": []} == {
        "id": 0, "kind": "deposit", "currency": "USD", "amount": "10.50", "from_account": None,
        "to_account": tenant.usd.pk, "reference": "wire-1", "metadata": {"bank": "x"}, "reverses": None,
        "reversed_by": None, "created_at": "", "postings": [],
    }
    assert withdrawal.json()["from_account"] == tenant.usd.pk and withdrawal.json()["to_account"] is None
    assert (transfer.json()["from_account"], transfer.json()["to_account"], transfer.json()["amount"]) == (
        tenant.usd.pk, tenant.peer_usd.pk, "5.00"
    )
    assert reverse.json()["reverses"] == transfer.json()["id"]
    assert (reverse.json()["from_account"], reverse.json()["to_account"]) == (tenant.peer_usd.pk, tenant.usd.pk)
    reread = api.get(f"/api/v1/transfers/{transfer.json()['id']}/", **tenant.auth).json()
    assert reread["reversed_by"] == reverse.json()["id"]
    tenant.usd.refresh_from_db()
    assert tenant.usd.balance == 99_00 + 10_50 - 50


def test_reversing_twice_is_409_already_reversed_and_changes_nothing(api, tenant):
    api.post(f"/api/v1/transfers/{tenant.transfer.pk}/reverse/", {}, format="json", **tenant.auth)
    before = ledger_snapshot()
    again = api.post(f"/api/v1/transfers/{tenant.transfer.pk}/reverse/", {}, format="json", **tenant.auth)
    assert again.status_code == 409
    assert again.json()["code"] == "already_reversed"
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (lambda t: {"from_account": t.usd.pk, "to_account": t.peer_usd.pk, "amount": "1000"}, "insufficient_funds"),
        (lambda t: {"from_account": t.usd.pk, "to_account": t.usd.pk, "amount": "1"}, "same_account"),
        (lambda t: {"from_account": t.btc.pk, "to_account": t.peer_usd.pk, "amount": "1"}, "currency_mismatch"),
    ],
    ids=["insufficient_funds", "same_account", "currency_mismatch"],
)
def test_transfer_rule_rejections_are_422_and_change_nothing(api, tenant, body, code):
    before = ledger_snapshot()
    response = api.post("/api/v1/transfers/", body(tenant), format="json", **tenant.auth)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert ledger_snapshot() == before


def test_unauthorized_currency_is_403_currency_not_authorized(api, tenant):
    other = EndUserFactory(client=tenant.client)
    eth = open_account(other, "ETH")
    other.currency_authorizations.all().delete()
    before = ledger_snapshot()
    response = api.post("/api/v1/deposits/", {"account": eth.pk, "amount": "1"}, format="json", **tenant.auth)
    assert response.status_code == 403
    assert response.json()["code"] == "currency_not_authorized"
    assert ledger_snapshot() == before


def test_balances_list_every_account_and_narrow_to_one_currency(api, tenant):
    everything = api.get(f"/api/v1/users/{tenant.user.pk}/balances/", **tenant.auth).json()
    btc = api.get(f"/api/v1/users/{tenant.user.pk}/balances/?currency=btc", **tenant.auth).json()
    eth = api.get(f"/api/v1/users/{tenant.user.pk}/balances/?currency=ETH", **tenant.auth).json()
    unknown = api.get(f"/api/v1/users/{tenant.user.pk}/balances/?currency=NOPE", **tenant.auth)
    # the tenant's resting limit sell holds 0.01 BTC: balance is unchanged, available is not
    assert everything == {"user": tenant.user.pk, "balances": [
        {"currency": "BTC", "balance": "1.00000000", "available": "0.99000000"},
        {"currency": "USD", "balance": "99.00", "available": "99.00"},
    ]}
    assert btc["balances"] == [{"currency": "BTC", "balance": "1.00000000", "available": "0.99000000"}]
    assert eth["balances"] == [{"currency": "ETH", "balance": "0.000000000", "available": "0.000000000"}]
    assert unknown.status_code == 400


def ledger_queries(api, path, auth) -> tuple:
    """The response, and how many queries touched ledger tables (auth and throttling excluded)."""
    with CaptureQueriesContext(connection) as context:
        response = api.get(path, **auth)
    return response, sum('"ledger_' in query["sql"] for query in context.captured_queries)


def test_biggest_returns_the_largest_user_account_per_currency_in_one_query(api, tenant, other_tenant):
    # given: a richer USD account in the tenant
    rich = open_account(EndUserFactory(client=tenant.client), "USD", deposit=500_00)
    # when
    response, queries = ledger_queries(api, "/api/v1/accounts/biggest/", tenant.auth)
    # then
    assert queries == 1
    assert [(row["currency"], row["id"]) for row in response.json()] == [("BTC", tenant.btc.pk), ("USD", rich.pk)]


def test_transactions_list_has_no_n_plus_one_and_filters(api, tenant):
    _, queries_for_three = ledger_queries(api, "/api/v1/transactions/", tenant.auth)
    for _ in range(5):
        api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1"}, format="json", **tenant.auth)
    response, queries_for_eight = ledger_queries(api, "/api/v1/transactions/", tenant.auth)
    assert queries_for_eight == queries_for_three == 2  # entries, then all their postings
    assert len(response.json()["results"]) == 5 + 3  # + the fixture's two deposits and transfer
    kinds = api.get(f"/api/v1/transactions/?kind=transfer&account={tenant.peer_usd.pk}", **tenant.auth).json()
    assert [row["id"] for row in kinds["results"]] == [tenant.transfer.pk]
    by_user = api.get(f"/api/v1/transactions/?user={tenant.peer.pk}", **tenant.auth).json()
    assert [row["id"] for row in by_user["results"]] == [tenant.transfer.pk]
    by_currency = api.get("/api/v1/transactions/?currency=BTC", **tenant.auth).json()
    assert len(by_currency["results"]) == 1
    future = api.get("/api/v1/transactions/?created_after=2999-01-01T00:00:00Z", **tenant.auth).json()
    assert future["results"] == []
    history = api.get(f"/api/v1/accounts/{tenant.peer_usd.pk}/transactions/", **tenant.auth).json()
    assert [row["id"] for row in history["results"]] == [tenant.transfer.pk]


def test_transaction_detail_shows_postings(api, tenant):
    body = api.get(f"/api/v1/transactions/{tenant.transfer.pk}/", **tenant.auth).json()
    assert body["postings"] == [
        {"account": tenant.usd.pk, "account_kind": "user", "currency": "USD", "amount": "-1.00", "sequence": 2,
         "balance_after": "99.00"},
        {"account": tenant.peer_usd.pk, "account_kind": "user", "currency": "USD", "amount": "1.00", "sequence": 1,
         "balance_after": "1.00"},
    ]


def test_cursor_pagination_is_stable_under_inserts(api, tenant):
    for _ in range(4):
        api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1"}, format="json", **tenant.auth)
    first = api.get("/api/v1/transactions/?page_size=3", **tenant.auth).json()
    api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1"}, format="json", **tenant.auth)
    second = api.get(first["next"], **tenant.auth).json()
    seen = [row["id"] for row in first["results"]] + [row["id"] for row in second["results"]]
    assert len(seen) == len(set(seen)) == 6
    assert seen == sorted(seen, reverse=True)


def test_end_user_transfers_from_own_account_and_reverses_only_what_it_received(api, tenant):
    sender, receiver = end_user_auth(tenant.user), end_user_auth(tenant.peer)
    sent = api.post("/api/v1/transfers/", {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk,
                                           "amount": "2"}, format="json", **sender)
    assert sent.status_code == 201
    before = ledger_snapshot()
    by_sender = api.post(f"/api/v1/transfers/{sent.json()['id']}/reverse/", {}, format="json", **sender)
    assert by_sender.status_code == 403
    assert ledger_snapshot() == before
    by_receiver = api.post(f"/api/v1/transfers/{sent.json()['id']}/reverse/", {}, format="json", **receiver)
    assert by_receiver.status_code == 201
    assert JournalEntry.objects.filter(reverses_id=sent.json()["id"]).count() == 1


def test_end_user_sees_only_own_accounts_and_transactions(api, tenant):
    auth = end_user_auth(tenant.peer)
    accounts = api.get("/api/v1/accounts/", **auth).json()["results"]
    transactions = api.get("/api/v1/transactions/", **auth).json()["results"]
    assert [row["id"] for row in accounts] == [tenant.peer_usd.pk]
    assert [row["id"] for row in transactions] == [tenant.transfer.pk]
    assert api.get(f"/api/v1/users/{tenant.peer.pk}/balances/", **auth).status_code == 200
