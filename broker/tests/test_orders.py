"""Order lifecycle through the services, the worker called directly. Figures to the minor unit.

BTC is at 60,000.00 USD, the client's fee is 50 bps, the market slippage margin 200 bps.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from broker.errors import (
    CurrencyNotOfferedError,
    DuplicateClientOrderIdError,
    InvalidOrderError,
    OrderFinalError,
    QuoteExpiredError,
    QuoteUsedError,
    RateUnavailableError,
)
from broker.models import Order, Quote
from broker.services import (
    OrderRequest,
    offered_currency_add,
    order_cancel,
    order_execute,
    order_submit,
    orders_sweep,
    quote_create,
    rate_update,
    user_currency_revoke,
)
from broker.services import order_execution as order_services
from core.errors import DomainError
from ledger.errors import CurrencyNotAuthorizedError, InsufficientFundsError
from ledger.models import Account, Hold, JournalEntry
from ledger.verification import ledger_verify
from tests.factories import open_account
from tests.fixtures import balance, ledger_snapshot, system_balance

pytestmark = pytest.mark.usefixtures("rates")


def assert_rejected_without_change(error_class, call):
    """rejected_with for an error class (some cases accept any DomainError)."""
    before = ledger_snapshot()
    with pytest.raises(error_class):
        call()
    assert ledger_snapshot() == before


def test_market_buy_holds_the_slippage_margin_and_charges_the_actual_cost(alice, alice_usd, btc, tenant):
    # Given Alice with 10,000.00 USD
    # When she submits a market buy of 0.01 BTC
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=1_000_000))

    # Then 612.00 + 3.06 fee is held at 61,200 (60,000 + 2%), nothing moved yet
    assert order.status == Order.Status.SUBMITTED
    assert balance(alice_usd) == (1_000_000, 61_506)

    # When the worker executes it
    order = order_execute(order_id=order.pk)

    # Then she paid 600.00 + 3.00 fee, the margin is available again, and she has 0.01 BTC
    assert order.status == Order.Status.FILLED
    assert (order.fill_quantity, order.fill_price_e8, order.fill_usd_amount, order.fee) == (
        1_000_000, 60_000 * 10**8, 60_000, 300,
    )
    assert balance(alice_usd) == (939_700, 0)
    assert Account.objects.get(user=alice, currency=btc).balance == 1_000_000
    assert system_balance(tenant, "USD", Account.Kind.INVENTORY) == 60_000
    assert system_balance(tenant, "BTC", Account.Kind.INVENTORY) == -1_000_000
    assert system_balance(tenant, "USD", Account.Kind.FEE_REVENUE) == 300
    assert Hold.objects.get(pk=order.hold_id).status == Hold.Status.CAPTURED
    entry = JournalEntry.objects.get(pk=order.entry_id)
    assert entry.kind == JournalEntry.Kind.TRADE
    assert sorted(entry.postings.values_list("amount", flat=True)) == [-1_000_000, -60_300, 300, 60_000, 1_000_000]
    assert ledger_verify(record=False).is_ok


def test_market_buy_sized_in_usd_rounds_the_quantity_down(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, usd_amount=10_001))
    assert balance(alice_usd) == (1_000_000, 10_001 + 51)

    order = order_execute(order_id=order.pk)

    # 100.01 USD at 60,000 is 0.00166683333… BTC: she receives 166683 satoshi.
    assert (order.fill_quantity, order.fill_usd_amount, order.fee) == (166_683, 10_001, 51)
    assert balance(alice_usd) == (1_000_000 - 10_052, 0)


def test_market_sell_pays_proceeds_minus_fee(alice, alice_usd, alice_btc, tenant):
    order = order_submit(request=OrderRequest(
        user=alice, side="sell", type="market", currency=alice_btc.currency, quantity=10_000_000,
    ))
    assert balance(alice_btc) == (50_000_000, 10_000_000)

    order = order_execute(order_id=order.pk)

    # 0.1 BTC at 60,000 = 6,000.00; fee 30.00.
    assert (order.fill_usd_amount, order.fee) == (600_000, 3_000)
    assert balance(alice_btc) == (40_000_000, 0)
    assert balance(alice_usd) == (1_000_000 + 597_000, 0)
    assert system_balance(tenant, "USD", Account.Kind.FEE_REVENUE) == 3_000


def test_limit_buy_rests_then_fills_at_the_better_rate_when_the_rate_falls(alice, alice_usd, btc):
    order = order_execute(
        order_id=order_submit(request=OrderRequest(
            user=alice, side="buy", type="limit", currency=btc, quantity=1_000_000, limit_price_e8=59_000 * 10**8
        )).pk
    )
    assert order.status == Order.Status.OPEN
    assert balance(alice_usd) == (1_000_000, 59_000 + 295)

    rate_update(currency="BTC", price_e8=58_500 * 10**8)
    order_services.orders_evaluate(currency_code="BTC")

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert (order.fill_price_e8, order.fill_usd_amount, order.fee) == (58_500 * 10**8, 58_500, 293)
    assert balance(alice_usd) == (1_000_000 - 58_793, 0)


def test_limit_sell_fills_only_once_the_rate_reaches_the_limit(alice, alice_usd, alice_btc, btc):
    order = order_submit(request=OrderRequest(user=alice, side="sell", type="limit", currency=btc, quantity=10_000_000,
                                              limit_price_e8=61_000 * 10**8))
    order_execute(order_id=order.pk)
    rate_update(currency="BTC", price_e8=60_999 * 10**8)
    order_services.orders_evaluate(currency_code="BTC")
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN

    rate_update(currency="BTC", price_e8=61_000 * 10**8)
    order_services.orders_evaluate(currency_code="BTC")
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert balance(alice_btc) == (40_000_000, 0)
    assert balance(alice_usd) == (1_000_000 + 610_000 - 3_050, 0)


def test_stop_sell_triggers_when_the_rate_falls_through_the_stop(alice, alice_usd, alice_btc, btc):
    order = order_submit(request=OrderRequest(user=alice, side="sell", type="stop", currency=btc, quantity=10_000_000,
                                              stop_price_e8=55_000 * 10**8))
    assert order_execute(order_id=order.pk).status == Order.Status.OPEN

    rate_update(currency="BTC", price_e8=54_000 * 10**8)
    order_services.orders_evaluate(currency_code="BTC")

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert order.triggered_at is not None
    assert order.fill_price_e8 == 54_000 * 10**8
    assert balance(alice_usd) == (1_000_000 + 540_000 - 2_700, 0)


def test_stop_buy_that_gaps_past_its_margin_is_rejected_and_released(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="stop", currency=btc, quantity=1_000_000,
                                              stop_price_e8=61_000 * 10**8))
    order_execute(order_id=order.pk)
    held = balance(alice_usd)

    rate_update(currency="BTC", price_e8=70_000 * 10**8)
    order_services.orders_evaluate(currency_code="BTC")

    order.refresh_from_db()
    assert held[1] > 0
    assert (order.status, order.reject_reason) == (Order.Status.REJECTED, "price_moved")
    assert balance(alice_usd) == (1_000_000, 0)
    assert order.entry_id is None


def test_ioc_limit_that_cannot_fill_now_expires_and_releases(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="limit", currency=btc, quantity=1_000_000,
                                              limit_price_e8=50_000 * 10**8, time_in_force="ioc"))
    order = order_execute(order_id=order.pk)
    assert (order.status, order.reject_reason) == (Order.Status.EXPIRED, "ioc_not_filled")
    assert balance(alice_usd) == (1_000_000, 0)


def test_cancel_releases_the_hold(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="limit", currency=btc, quantity=1_000_000,
                                              limit_price_e8=50_000 * 10**8))
    order = order_cancel(order=order)
    assert order.status == Order.Status.CANCELLED
    assert balance(alice_usd) == (1_000_000, 0)
    # A cancelled order's task running late does nothing.
    assert order_execute(order_id=order.pk).status == Order.Status.CANCELLED
    assert JournalEntry.objects.filter(kind="trade").count() == 0


def test_cancel_after_fill_is_refused_and_changes_nothing(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=1_000_000))
    order_execute(order_id=order.pk)
    assert_rejected_without_change(OrderFinalError, lambda: order_cancel(order=order))


def test_buy_beyond_available_usd_is_refused_and_writes_nothing(alice, alice_usd, btc):
    assert_rejected_without_change(
        InsufficientFundsError,
        lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", type="market", currency=btc, quantity=100_000_000,
        )),
    )


def test_orders_cannot_spend_the_same_usd_twice(alice, alice_usd, btc):
    # 10,000.00 USD covers one buy of 0.16 BTC (held at 61,200 + fee) but not two.
    order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=16_000_000))
    assert_rejected_without_change(
        InsufficientFundsError,
        lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", type="market", currency=btc, quantity=16_000_000,
        )),
    )


def test_unauthorized_currency_is_refused_and_writes_nothing(alice, alice_usd, eth):
    assert_rejected_without_change(
        CurrencyNotAuthorizedError,
        lambda: order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=eth, quantity=1_000)),
    )
    assert_rejected_without_change(
        CurrencyNotAuthorizedError,
        lambda: quote_create(user=alice, side="buy", currency=eth, quantity=1_000),
    )


def test_currency_the_client_does_not_offer_is_refused(alice, alice_usd, alice_btc, btc, eth, tenant):
    offered_currency_add(client=tenant, currency=eth)
    assert_rejected_without_change(
        CurrencyNotOfferedError,
        lambda: order_submit(request=OrderRequest(
            user=alice, side="sell", type="market", currency=btc, quantity=1_000,
        )),
    )


def test_revoked_authorization_rejects_a_resting_order_when_it_would_fill(alice, alice_usd, alice_btc, btc):
    order = order_submit(request=OrderRequest(user=alice, side="sell", type="limit", currency=btc, quantity=1_000_000,
                                              limit_price_e8=61_000 * 10**8))
    order_execute(order_id=order.pk)
    user_currency_revoke(user=alice, currency=btc)
    rate_update(currency="BTC", price_e8=62_000 * 10**8)

    order_services.orders_evaluate(currency_code="BTC")

    order.refresh_from_db()
    assert (order.status, order.reject_reason) == (Order.Status.REJECTED, "currency_not_authorized")
    assert balance(alice_btc) == (50_000_000, 0)


def test_quote_then_order_fills_at_the_quoted_price_even_if_the_rate_moved(alice, alice_usd, btc):
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=1_000_000)
    assert (quote.usd_amount, quote.fee, quote.total) == (60_000, 300, 60_300)
    order = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quote_id=quote.pk))
    assert balance(alice_usd) == (1_000_000, 60_300)

    rate_update(currency="BTC", price_e8=65_000 * 10**8)
    order = order_execute(order_id=order.pk)

    assert (order.status, order.fill_price_e8) == (Order.Status.FILLED, 60_000 * 10**8)
    assert balance(alice_usd) == (1_000_000 - 60_300, 0)


def test_a_quote_is_used_at_most_once(alice, alice_usd, btc):
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=1_000_000)
    order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quote_id=quote.pk))
    assert_rejected_without_change(
        QuoteUsedError, lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", currency=btc, quote_id=quote.pk,
        ))
    )


def test_an_expired_quote_is_refused(alice, alice_usd, btc):
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=1_000_000)
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_rejected_without_change(
        QuoteExpiredError, lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", currency=btc, quote_id=quote.pk,
        ))
    )


def test_executing_the_same_order_twice_fills_it_once(alice, alice_usd, btc):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=1_000_000))
    order_execute(order_id=order.pk)
    order_execute(order_id=order.pk)
    assert JournalEntry.objects.filter(kind="trade").count() == 1
    assert balance(alice_usd) == (939_700, 0)


def test_a_crash_after_posting_rolls_the_fill_back_and_a_rerun_fills_once(alice, alice_usd, btc, monkeypatch):
    order = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=1_000_000))
    before = ledger_snapshot()

    def crash(**kwargs):
        raise RuntimeError("worker killed after the journal entry was written")

    with monkeypatch.context() as patch:
        patch.setattr(order_services, "_order_record_fill", crash)
        with pytest.raises(RuntimeError):
            order_execute(order_id=order.pk)
    assert ledger_snapshot() == before

    assert order_execute(order_id=order.pk).status == Order.Status.FILLED
    assert JournalEntry.objects.filter(kind="trade").count() == 1
    assert balance(alice_usd) == (939_700, 0)
    assert ledger_verify(record=False).is_ok


def test_sweeper_runs_stale_orders_and_expires_old_ones(alice, alice_usd, btc):
    stale = order_submit(request=OrderRequest(user=alice, side="buy", type="market", currency=btc, quantity=1_000_000))
    resting = order_submit(request=OrderRequest(
        user=alice, side="buy", type="limit", currency=btc, quantity=1_000_000, limit_price_e8=50_000 * 10**8,
        expires_at=timezone.now() + timedelta(hours=1),
    ))
    order_execute(order_id=resting.pk)
    Order.objects.filter(pk=resting.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    counts = orders_sweep(stale_after=timedelta(0))

    assert counts["stale"] == 1
    stale.refresh_from_db()
    resting.refresh_from_db()
    assert stale.status == Order.Status.FILLED
    assert (resting.status, resting.reject_reason) == (Order.Status.EXPIRED, "expired")
    assert balance(alice_usd) == (939_700, 0)


def test_client_order_id_is_unique_per_client(alice, alice_usd, btc):
    order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=1_000, client_order_id="abc"))
    assert_rejected_without_change(
        DuplicateClientOrderIdError,
        lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", currency=btc, quantity=1_000, client_order_id="abc",
        )),
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "limit", "quantity": 1_000},
        {"type": "market", "quantity": 1_000, "limit_price_e8": 1},
        {"type": "stop", "quantity": 1_000, "stop_price_e8": 1, "time_in_force": "ioc"},
        {"type": "limit", "usd_amount": 1_000, "limit_price_e8": 1},
        {"type": "market", "quantity": 1_000, "usd_amount": 1_000},
        {"type": "market"},
        {"type": "market", "quantity": 1_000, "expires_at": timezone.now() - timedelta(seconds=1)},
        {"type": "limit", "quantity": 1_000, "limit_price_e8": -5},
        {"type": "bogus", "quantity": 1_000},
    ],
)
def test_malformed_orders_are_refused_and_write_nothing(alice, alice_usd, btc, fields):
    assert_rejected_without_change(
        DomainError, lambda: order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, **fields))
    )
    with pytest.raises(InvalidOrderError):
        order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, **fields))


def test_market_order_in_a_currency_without_a_rate_is_refused(alice, alice_usd):
    doge = open_account(alice, "DOGE").currency
    assert_rejected_without_change(
        RateUnavailableError,
        lambda: order_submit(request=OrderRequest(
            user=alice, side="buy", type="market", currency=doge, quantity=1_000,
        )),
    )

