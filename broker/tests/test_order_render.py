"""`order_render`, one serializer per process, renders each order exactly as a fresh
`OrderSerializer` does, whatever it rendered before."""

import pytest

from broker.api.serializers import OrderSerializer, order_render
from broker.services import OrderRequest, order_cancel, order_execute, order_submit, quote_create, rate_update

pytestmark = pytest.mark.usefixtures("rates")


def test_each_order_renders_as_a_fresh_serializer_renders_it(alice, alice_usd, alice_btc, btc):
    # given: orders of every side, type and status, one quoted
    buy = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000))
    filled = order_execute(order_id=buy.pk)
    sell = order_submit(request=OrderRequest(user=alice, side="sell", currency=btc, usd_amount=5_000))
    limit = order_submit(
        request=OrderRequest(user=alice, side="buy", type="limit", currency=btc, quantity=10_000, limit_price_e8=10**12)
    )
    cancelled = order_cancel(order=limit)
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=20_000)
    quoted = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quote_id=quote.pk))
    rate_update(currency="BTC", price_e8=30_000 * 10**8, source="demo")
    stop = order_submit(
        request=OrderRequest(
            user=alice, side="sell", type="stop", currency=btc, quantity=10_000, stop_price_e8=20_000 * 10**8
        )
    )
    # when: rendered one after the other, twice
    orders = [filled, sell, cancelled, quoted, stop, buy]
    rendered = [order_render(order) for order in orders + orders]
    # then
    assert rendered == [dict(OrderSerializer(order).data) for order in orders + orders]
    assert {row["status"] for row in rendered} >= {"filled", "submitted", "cancelled"}
    assert {row["side"] for row in rendered} == {"buy", "sell"}
