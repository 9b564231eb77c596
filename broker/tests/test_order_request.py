"""The order API's serializer builds the one `OrderRequest` value that `order_submit` takes:
amounts in minor units, prices in USD × 10^8, a quote as its id, the defaults the service expects."""

from types import SimpleNamespace

import pytest

from accounts.callers import Caller, CallerKind
from broker.api.serializers import OrderCreateSerializer
from broker.services import OrderRequest, quote_create

pytestmark = pytest.mark.usefixtures("rates")


def to_request(tenant, data) -> OrderRequest:
    caller = Caller(kind=CallerKind.API_KEY, client_id=tenant.pk)
    serializer = OrderCreateSerializer(data=data, context={"request": SimpleNamespace(auth=caller)})
    serializer.is_valid(raise_exception=True)
    return serializer.to_request()


def test_a_market_order_sized_in_usd_takes_the_defaults(tenant, alice, btc):
    request = to_request(tenant, {"user": alice.pk, "side": "buy", "currency": "BTC", "usd_amount": "100.01"})

    assert request == OrderRequest(user=alice, side="buy", currency=btc, type="market", usd_amount=10_001,
                                   time_in_force="gtc")
    assert (request.quantity, request.limit_price_e8, request.stop_price_e8, request.quote_id) == (None,) * 4
    assert (request.expires_at, request.client_order_id) == (None, None)


def test_a_limit_order_carries_its_price_in_e8_and_its_quantity_in_minor_units(tenant, alice, btc):
    request = to_request(tenant, {
        "user": alice.pk, "side": "sell", "currency": "BTC", "type": "limit", "quantity": "0.1",
        "limit_price": "61000.5", "time_in_force": "ioc", "client_order_id": "sell-1",
    })

    assert request == OrderRequest(
        user=alice, side="sell", currency=btc, type="limit", quantity=10_000_000,
        limit_price_e8=6_100_050_000_000, time_in_force="ioc", client_order_id="sell-1",
    )


def test_a_stop_order_carries_its_stop_price(tenant, alice, btc):
    request = to_request(tenant, {
        "user": alice.pk, "side": "sell", "currency": "BTC", "type": "stop", "quantity": "0.5",
        "stop_price": "55000",
    })

    assert (request.type, request.quantity, request.stop_price_e8, request.limit_price_e8) == (
        "stop", 50_000_000, 55_000 * 10**8, None,
    )


def test_an_order_at_a_quote_carries_the_quote_id_not_the_quote(tenant, alice, alice_usd, btc):
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=1_000_000)

    request = to_request(tenant, {"user": alice.pk, "side": "buy", "currency": "BTC", "quote": quote.pk})

    assert request == OrderRequest(user=alice, side="buy", currency=btc, quote_id=quote.pk)
