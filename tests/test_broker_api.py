"""The brokerage end to end through the API, the worker run synchronously.

Tasks use django-tasks' ImmediateBackend here and every request runs its on-commit callbacks,
so an order submitted by the API is executed by the real task right after its transaction
commits, exactly as `db_worker` would (test_broker_worker.py runs the database backend itself).
Figures are asserted to the minor unit; the client's fee is 50 bps.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.callers import Caller
from accounts.services import api_key_create
from broker.models import Order, Quote
from broker.services import offered_currency_add
from ledger.models import Account, Currency, Hold
from ledger.services import system_account_get
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, PlatformStaffFactory, open_account
from tests.fixtures import end_user_auth, ledger_snapshot

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def immediate_tasks(settings):
    settings.TASKS = IMMEDIATE_TASKS


class Desk:
    """One client's API key and a staff member who sets rates, each calling with commits applied."""

    def __init__(self, capture):
        self.capture = capture
        self.client = ClientFactory(fee_bps=50)
        _, key = api_key_create(client=self.client, name="test")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        staff = PlatformStaffFactory(is_superuser=True)
        self.staff_api = APIClient()
        self.staff_api.force_authenticate(user=staff, token=Caller.for_person(staff))

    def call(self, method: str, path: str, data=None, *, api=None):
        with self.capture(execute=True):
            return getattr(api or self.api, method)(f"/api/v1{path}", data, format="json")

    def set_rate(self, code: str, price: str):
        response = self.call("put", f"/rates/{code}/", {"price": price}, api=self.staff_api)
        assert response.status_code == 200, response.json()
        return response


@pytest.fixture
def desk(db, django_capture_on_commit_callbacks):
    return Desk(django_capture_on_commit_callbacks)


@pytest.fixture
def priced(desk):
    desk.set_rate("BTC", "60000.00")
    desk.set_rate("ETH", "3000.00")
    return desk


@pytest.fixture
def user(priced):
    """An end user with 10,000.00 USD, authorized for BTC only."""
    user = EndUserFactory(client=priced.client)
    open_account(user, "USD", deposit=1_000_000)
    open_account(user, "BTC")
    return user


def figures(user, code: str) -> tuple[int, int]:
    account = Account.objects.get(user=user, currency_id=code)
    return account.balance, account.held


def fee_revenue(client) -> int:
    return system_account_get(client=client, currency="USD", kind=Account.Kind.FEE_REVENUE).balance


@contextmanager
def changes_nothing():
    before = ledger_snapshot()
    yield
    assert ledger_snapshot() == before


def test_deposit_quote_buy_rate_moves_limit_sell_fills_withdraw(desk, django_capture_on_commit_callbacks):
    # Given a rate, and an end user the client funds with 10,000.00 USD
    desk.set_rate("BTC", "60000.00")
    user = EndUserFactory(client=desk.client)
    usd_account = open_account(user, "USD")
    response = desk.call("post", "/deposits/", {"account": usd_account.pk, "amount": "10000.00"})
    assert response.status_code == 201, response.json()
    assert figures(user, "USD") == (1_000_000, 0)

    # When the client authorizes BTC and asks for a quote for 0.1 BTC
    assert desk.call("post", f"/users/{user.pk}/currencies/", {"currency": "BTC"}).status_code == 201
    response = desk.call("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.1"})

    # Then the quote shows price, notional, the fee and the total, and holds nothing
    assert response.status_code == 201, response.json()
    quote = response.json()
    assert {key: quote[key] for key in ("price", "quantity", "usd_amount", "fee", "total")} == {
        "price": "60000.00000000", "quantity": "0.10000000", "usd_amount": "6000.00", "fee": "30.00",
        "total": "6030.00",
    }
    assert figures(user, "USD") == (1_000_000, 0)

    # When she buys with the quote
    response = desk.call(
        "post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "type": "market", "quote": quote["id"]}
    )

    # Then the API accepted it (202 submitted) and the worker filled it at the quoted price
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "submitted"
    assert response.json()["held"] == "6030.00"
    buy = desk.call("get", f"/orders/{response.json()['id']}/").json()
    assert (buy["status"], buy["fill_quantity"], buy["fill_price"], buy["fee"]) == (
        "filled", "0.10000000", "60000.00000000", "30.00",
    )
    assert figures(user, "USD") == (1_000_000 - 603_000, 0)
    assert figures(user, "BTC") == (10_000_000, 0)
    assert fee_revenue(desk.client) == 3_000
    position = desk.call("get", f"/users/{user.pk}/positions/").json()["positions"][0]
    assert position == {
        "currency": "BTC", "quantity": "0.10000000", "available": "0.10000000", "average_cost": "60300.00000000",
        "cost_basis": "6030.00", "price": "60000.00000000", "market_value": "6000.00", "unrealized_pnl": "-30.00",
    }

    # When she places a limit sell above the market
    response = desk.call(
        "post", "/orders/",
        {"user": user.pk, "side": "sell", "currency": "BTC", "type": "limit", "quantity": "0.1",
         "limit_price": "66000.00", "client_order_id": "take-profit-1"},
    )
    assert response.status_code == 202, response.json()
    sell_id = response.json()["id"]

    # Then it rests with the BTC held
    assert desk.call("get", f"/orders/{sell_id}/").json()["status"] == "open"
    assert figures(user, "BTC") == (10_000_000, 10_000_000)

    # When the rate rises but not to the limit, it keeps resting and the position is revalued
    desk.set_rate("BTC", "65000.00")
    assert desk.call("get", f"/orders/{sell_id}/").json()["status"] == "open"
    position = desk.call("get", f"/users/{user.pk}/positions/").json()["positions"][0]
    assert (position["market_value"], position["unrealized_pnl"], position["available"]) == (
        "6500.00", "470.00", "0.00000000",
    )

    # When the rate crosses the limit, the sell fills at the rate: 6,650.00 less 33.25 fee
    desk.set_rate("BTC", "66500.00")
    sell = desk.call("get", f"/orders/{sell_id}/").json()
    assert (sell["status"], sell["fill_price"], sell["fill_usd_amount"], sell["fee"]) == (
        "filled", "66500.00000000", "6650.00", "33.25",
    )
    assert figures(user, "BTC") == (0, 0)
    assert figures(user, "USD") == (397_000 + 665_000 - 3_325, 0)
    assert fee_revenue(desk.client) == 3_000 + 3_325
    assert desk.call("get", f"/users/{user.pk}/positions/").json()["positions"][0]["quantity"] == "0.00000000"

    # When she withdraws everything
    response = desk.call("post", "/withdrawals/", {"account": usd_account.pk, "amount": "10586.75"})

    # Then nothing is left, and the ledger balances
    assert response.status_code == 201, response.json()
    assert figures(user, "USD") == (0, 0)
    assert Hold.objects.filter(status=Hold.Status.ACTIVE).count() == 0
    assert ledger_verify(record=False).is_ok


def test_market_buy_sized_in_usd_releases_nothing_extra_and_charges_the_fee(priced, user):
    response = priced.call(
        "post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "usd_amount": "600.00"}
    )
    assert response.status_code == 202
    order = priced.call("get", f"/orders/{response.json()['id']}/").json()
    assert (order["status"], order["fill_quantity"], order["fill_usd_amount"], order["fee"]) == (
        "filled", "0.01000000", "600.00", "3.00",
    )
    assert figures(user, "USD") == (1_000_000 - 60_300, 0)


def test_conversion_is_one_entry_with_the_fee_in_usd(priced, user):
    priced.call("post", f"/users/{user.pk}/currencies/", {"currency": "ETH"})
    priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.1"})

    response = priced.call(
        "post", "/conversions/", {"user": user.pk, "from_currency": "BTC", "to_currency": "ETH", "amount": "0.05"}
    )

    # 0.05 BTC at 60,000 = 3,000.00 = 1 ETH; fee 15.00 in USD
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["from_amount"], body["to_amount"], body["rate"], body["fee"], body["usd_value"]) == (
        "0.05000000", "1.000000000", "20", "15.00", "3000.00",
    )
    assert figures(user, "BTC") == (5_000_000, 0)
    assert figures(user, "ETH") == (1_000_000_000, 0)
    assert figures(user, "USD") == (1_000_000 - 603_000 - 1_500, 0)
    inventory_btc = system_account_get(client=priced.client, currency="BTC", kind=Account.Kind.INVENTORY)
    assert inventory_btc.balance == -10_000_000 + 5_000_000
    assert ledger_verify(record=False).is_ok


def test_conversion_beyond_the_balance_changes_nothing(priced, user):
    priced.call("post", f"/users/{user.pk}/currencies/", {"currency": "ETH"})
    with changes_nothing():
        data = {"user": user.pk, "from_currency": "USD", "to_currency": "ETH", "amount": "9990.00"}
        response = priced.call("post", "/conversions/", data)
    assert (response.status_code, response.json()["code"]) == (422, "insufficient_funds")


def test_orders_list_filters_by_status_side_and_currency(priced, user):
    priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    priced.call(
        "post", "/orders/",
        {"user": user.pk, "side": "buy", "currency": "BTC", "type": "limit", "quantity": "0.01", "limit_price": "1"},
    )
    assert [o["status"] for o in priced.call("get", "/orders/?status=open").json()["results"]] == ["open"]
    assert len(priced.call("get", f"/orders/?user={user.pk}&side=buy&currency=btc").json()["results"]) == 2
    assert priced.call("get", "/orders/?side=sell").json()["results"] == []
    assert priced.call("get", "/orders/?status=bogus").status_code == 400


def test_cancel_releases_the_hold_and_cancel_after_fill_is_order_final(priced, user):
    resting = priced.call(
        "post", "/orders/",
        {"user": user.pk, "side": "buy", "currency": "BTC", "type": "limit", "quantity": "0.01", "limit_price": "100"},
    ).json()
    response = priced.call("post", f"/orders/{resting['id']}/cancel/")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert figures(user, "USD") == (1_000_000, 0)

    filled = priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    with changes_nothing():
        response = priced.call("post", f"/orders/{filled.json()['id']}/cancel/")
    assert (response.status_code, response.json()["code"]) == (409, "order_final")
    assert response["Content-Type"] == "application/problem+json"


def test_unauthorized_currency_is_403_and_changes_nothing(priced, user):
    for path, data in [
        ("/orders/", {"user": user.pk, "side": "buy", "currency": "ETH", "quantity": "1"}),
        ("/quotes/", {"user": user.pk, "side": "buy", "currency": "ETH", "quantity": "1"}),
        ("/conversions/", {"user": user.pk, "from_currency": "USD", "to_currency": "ETH", "amount": "10"}),
    ]:
        with changes_nothing():
            response = priced.call("post", path, data)
        assert (response.status_code, response.json()["code"]) == (403, "currency_not_authorized"), path


def test_granting_a_currency_the_client_does_not_offer_is_refused(priced, user):
    offered_currency_add(client=priced.client, currency=Currency.objects.get(code="BTC"))
    response = priced.call("post", f"/users/{user.pk}/currencies/", {"currency": "ETH"})
    assert (response.status_code, response.json()["code"]) == (403, "currency_not_offered")
    codes = [c["code"] for c in priced.call("get", f"/users/{user.pk}/currencies/").json()["results"]]
    assert codes == ["BTC", "USD"]


def test_revoking_a_currency_and_the_settlement_currency_cannot_be_revoked(priced, user):
    assert priced.call("delete", f"/users/{user.pk}/currencies/BTC/").status_code == 204
    assert [c["code"] for c in priced.call("get", f"/users/{user.pk}/currencies/").json()["results"]] == ["USD"]
    response = priced.call("delete", f"/users/{user.pk}/currencies/USD/")
    assert (response.status_code, response.json()["code"]) == (422, "settlement_currency")


def test_expired_and_used_quotes_are_409_and_change_nothing(priced, user):
    quote = priced.call("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "usd_amount": "100"})
    order = {"user": user.pk, "side": "buy", "currency": "BTC", "quote": quote.json()["id"]}
    Quote.objects.filter(pk=quote.json()["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    with changes_nothing():
        response = priced.call("post", "/orders/", order)
    assert (response.status_code, response.json()["code"]) == (409, "quote_expired")

    fresh = priced.call("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "usd_amount": "100"})
    order["quote"] = fresh.json()["id"]
    assert priced.call("post", "/orders/", order).status_code == 202
    with changes_nothing():
        response = priced.call("post", "/orders/", order)
    assert (response.status_code, response.json()["code"]) == (409, "quote_used")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"type": "limit", "quantity": "0.01", "limit_price": "abc"}, "invalid_price"),
        ({"type": "limit", "quantity": "0.01", "limit_price": "-1"}, "invalid_price"),
        ({"type": "limit", "quantity": "0.01", "limit_price": "1.123456789"}, "invalid_price"),
        ({"type": "limit", "quantity": "0.01", "limit_price": True}, "invalid_price"),
        ({"type": "limit", "quantity": "0.01"}, "invalid_order"),
        ({"type": "market", "quantity": "0.000000001"}, "invalid_amount"),
        ({"type": "market", "quantity": "0.01", "usd_amount": "10"}, "invalid_order"),
        ({"side": "sell", "type": "market", "quantity": "0.00000001"}, "quantity_too_small"),
        ({"type": "market", "quantity": "1000"}, "insufficient_funds"),
    ],
)
def test_bad_orders_are_refused_with_a_clear_code_and_change_nothing(priced, user, fields, code):
    with changes_nothing():
        response = priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", **fields})
    assert response.json()["code"] == code, response.json()
    assert response.status_code in (400, 422)


def test_rates_are_read_by_everyone_and_written_by_operations_only(priced, user):
    assert priced.call("get", "/rates/BTC/").json()["price"] == "60000.00000000"
    assert [r["currency"] for r in priced.call("get", "/rates/").json()["results"]] == ["BTC", "ETH"]
    history = priced.call("get", "/rates/btc/history/").json()["results"]
    assert [h["price"] for h in history] == ["60000.00000000"]
    currencies = {c["code"]: c["price"] for c in priced.call("get", "/currencies/").json()["results"]}
    assert currencies["BTC"] == "60000.00000000" and currencies["USD"] is None

    with changes_nothing():
        response = priced.call("put", "/rates/BTC/", {"price": "1.00"})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    end_user = APIClient()
    end_user.credentials(**{"HTTP_AUTHORIZATION": end_user_auth(user)["HTTP_AUTHORIZATION"]})
    assert priced.call("put", "/rates/BTC/", {"price": "1.00"}, api=end_user).status_code == 403

    response = priced.call("put", "/rates/BTC/", {"price": "0"}, api=priced.staff_api)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_price")
    response = priced.call("put", "/rates/USD/", {"price": "1"}, api=priced.staff_api)
    assert (response.status_code, response.json()["code"]) == (422, "settlement_currency")
    assert priced.call("get", "/rates/DOGE/").status_code == 404


def test_another_clients_key_sees_404_everywhere(priced, user):
    order = priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    quote = priced.call("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    other = Desk(priced.capture)
    order_id, quote_id = order.json()["id"], quote.json()["id"]

    with changes_nothing():
        for method, path, data in [
            ("get", f"/orders/{order_id}/", None),
            ("post", f"/orders/{order_id}/cancel/", None),
            ("get", f"/quotes/{quote_id}/", None),
            ("get", f"/users/{user.pk}/positions/", None),
            ("get", f"/users/{user.pk}/currencies/", None),
            ("post", f"/users/{user.pk}/currencies/", {"currency": "ETH"}),
            ("delete", f"/users/{user.pk}/currencies/BTC/", None),
            ("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"}),
            ("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"}),
            ("post", "/conversions/", {"user": user.pk, "from_currency": "USD", "to_currency": "BTC", "amount": "1"}),
        ]:
            response = other.call(method, path, data)
            assert response.status_code == 404, (method, path, response.json())
    assert other.call("get", "/orders/").json()["results"] == []


def test_anonymous_callers_get_401(priced, user):
    anonymous = APIClient()
    for method, path in [
        ("get", "/orders/"), ("post", "/orders/"), ("get", "/quotes/"), ("post", "/quotes/"),
        ("post", "/conversions/"), ("get", "/rates/"), ("get", "/rates/BTC/history/"), ("put", "/rates/BTC/"),
        ("get", "/currencies/"), ("get", f"/users/{user.pk}/currencies/"), ("get", f"/users/{user.pk}/positions/"),
    ]:
        with changes_nothing():
            response = priced.call(method, path, {}, api=anonymous)
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), path


def test_end_user_tokens_cannot_use_the_brokerage(priced, user):
    end_user = APIClient()
    end_user.credentials(**end_user_auth(user))
    order = priced.call("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    quote = priced.call("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"})
    order_id, quote_id = order.json()["id"], quote.json()["id"]

    with changes_nothing():
        for method, path, data in [
            ("get", "/currencies/", None),
            ("get", "/rates/", None),
            ("get", "/rates/BTC/", None),
            ("get", "/rates/BTC/history/", None),
            ("get", "/orders/", None),
            ("get", f"/orders/{order_id}/", None),
            ("post", f"/orders/{order_id}/cancel/", None),
            ("get", f"/quotes/{quote_id}/", None),
            ("get", f"/users/{user.pk}/positions/", None),
            ("get", f"/users/{user.pk}/currencies/", None),
            ("post", f"/users/{user.pk}/currencies/", {"currency": "ETH"}),
            ("delete", f"/users/{user.pk}/currencies/BTC/", None),
            ("post", "/orders/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"}),
            ("post", "/quotes/", {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"}),
            ("post", "/conversions/", {"user": user.pk, "from_currency": "USD", "to_currency": "BTC", "amount": "1"}),
        ]:
            response = priced.call(method, path, data, api=end_user)
            assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), (method, path)


def test_duplicate_client_order_id_is_409(priced, user):
    order = {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01", "client_order_id": "x-1"}
    assert priced.call("post", "/orders/", order).status_code == 202
    with changes_nothing():
        response = priced.call("post", "/orders/", order)
    assert (response.status_code, response.json()["code"]) == (409, "duplicate_client_order_id")


def test_idempotency_key_replays_the_accepted_order(priced, user):
    order = {"user": user.pk, "side": "buy", "currency": "BTC", "quantity": "0.01"}
    priced.api.credentials(HTTP_AUTHORIZATION=priced.api._credentials["HTTP_AUTHORIZATION"], HTTP_IDEMPOTENCY_KEY="k1")
    first = priced.call("post", "/orders/", order)
    second = priced.call("post", "/orders/", order)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
