"""The order path's reads compiled once per process (core.compiled) give what their querysets give."""

import pytest
from django.db import transaction
from django.utils import timezone

from broker.models import OfferedCurrency, Order, Rate
from broker.selectors import CurrencyTradingFacts, _currency_trading_facts, currency_trading_facts, settlement_value
from broker.services import (
    OrderRequest,
    order_execute,
    order_execution,
    order_submission,
    order_submit,
    quote_create,
    rate_update,
)
from core.compiled import row_update
from ledger.models import Currency
from ledger.selectors import currency_active_find
from ledger.services import account_create

pytestmark = pytest.mark.usefixtures("rates")


def _row(instance, *, related=(), annotations=()) -> tuple:
    """Every column of `instance`, of each related object it carries, and each annotation."""

    def columns(obj):
        return obj and tuple(getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields)

    return (
        columns(instance),
        tuple(columns(getattr(instance, name)) for name in related),
        tuple(getattr(instance, name) for name in annotations),
    )


def test_the_order_read_for_execution_is_the_querysets_row_with_hold_currency_user_quote_and_price(
    alice, alice_usd, btc
):
    # given: a market order, a quoted one, and a rate that moved since
    market = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000))
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=20_000)
    quoted = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quote_id=quote.pk))
    rate_update(currency="BTC", price_e8=61_000 * 10**8, source="demo")
    related = ("hold", "currency", "user", "quote")
    for order_id in (market.pk, quoted.pk, 10**12):
        with transaction.atomic():
            # when
            fetched = order_execution._ORDER_FOR_EXECUTION.fetch(order_id=order_id)
            expected = list(order_execution._order_for_execution(None, order_id=order_id))
        # then
        assert [_row(order, related=related, annotations=("current_price_e8",)) for order in fetched] == [
            _row(order, related=related, annotations=("current_price_e8",)) for order in expected
        ]
    assert fetched == [] and Order.objects.filter(pk=market.pk, status="submitted").exists()


def test_the_users_accounts_read_for_a_fill_are_the_querysets_rows_with_the_authorization(alice, alice_usd, eth):
    # given: alice authorized for BTC (with no BTC account yet), not for ETH, with an ETH account
    account_create(user=alice, currency=eth)
    for code in ("BTC", "ETH"):
        values = {"user_id": alice.pk, "currency_code": code, "currency_codes": ["USD", code]}
        # when
        fetched = order_execution._USER_ACCOUNTS_AUTHORIZED.fetch(**values)
        expected = list(order_execution._user_accounts_authorized(None, **values))
        # then
        assert sorted(_row(account, annotations=("is_authorized",)) for account in fetched) == sorted(
            _row(account, annotations=("is_authorized",)) for account in expected
        )
        assert len(fetched) == (1 if code == "BTC" else 2)


def test_the_currency_trading_facts_are_the_querysets_whatever_the_offering_authorization_and_rate(alice, tenant):
    # given: alice authorized for BTC only; ETH without a rate
    Rate.objects.filter(currency_id="ETH").delete()
    for offered in ([], ["ETH"], ["BTC", "ETH"]):
        OfferedCurrency.objects.filter(client=tenant).delete()
        for code in offered:
            OfferedCurrency.objects.create(client=tenant, currency_id=code)
        for code in ("BTC", "ETH", "NOPE"):
            # when
            facts = currency_trading_facts(user=alice, currency_code=code)
            # then
            rows = list(
                _currency_trading_facts(None, client_id=tenant.pk, user_id=alice.pk, currency_code=code).values_list(
                    "is_offered", "is_authorized", "price_e8"
                )
            )
            expected = (
                CurrencyTradingFacts(is_offered=bool(rows[0][0]), is_authorized=bool(rows[0][1]), price_e8=rows[0][2])
                if rows else CurrencyTradingFacts(is_offered=False, is_authorized=False, price_e8=None)
            )
            assert facts == expected
            if code == "BTC":
                assert facts == CurrencyTradingFacts(
                    is_offered=not offered or "BTC" in offered, is_authorized=True, price_e8=60_000 * 10**8
                )


def test_the_active_currency_lookup_is_the_querysets(btc):
    # given: an inactive currency
    Currency.objects.filter(code="ETH").update(is_active=False)
    for code, expected in [("BTC", btc), ("btc", btc), ("ETH", None), ("NOPE", None)]:
        # when
        found = currency_active_find(code=code)
        # then
        assert _row(found) == _row(expected) if expected else found is None


def test_the_users_accounts_read_at_submission_are_the_querysets(alice, alice_usd, bob):
    for user, code in [(alice, "BTC"), (bob, "BTC")]:
        values = {"user_id": user.pk, "currency_codes": ["USD", code]}
        fetched = order_submission._USER_ACCOUNTS.fetch(**values)
        expected = list(order_submission._user_accounts(None, **values))
        assert sorted(map(_row, fetched)) == sorted(map(_row, expected))
        assert len(fetched) == (1 if user == alice else 0)


def test_a_value_in_the_settlement_currency_is_read_at_the_current_rate_or_none_without_one(btc):
    # given: BTC at 60,000.00, ETH without a rate
    Rate.objects.filter(currency_id="ETH").delete()
    for _ in range(2):  # compiled on the first call, reused on the second
        # then: 0.00012345 BTC is worth 7.40 (7.407 rounded down)
        assert settlement_value(currency_code="BTC", amount=12_345) == 740
        assert settlement_value(currency_code="USD", amount=12_345) == 12_345
        assert settlement_value(currency_code="ETH", amount=12_345) is None
    rate_update(currency="BTC", price_e8=1 * 10**8, source="demo")
    assert settlement_value(currency_code="BTC", amount=10**8) == 100


def test_a_fills_columns_are_written_as_save_writes_them_and_updated_at_advances(alice, alice_usd, btc):
    # given: two filled orders, read back
    request = OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000)
    orders = [order_execute(order_id=order_submit(request=request).pk) for _ in range(2)]
    first, second = (Order.objects.get(pk=order.pk) for order in orders)
    before = second.updated_at
    # when: the same change, saved by Django and by the fill's row_update
    for order in (first, second):
        order.fill_price_e8, order.fee, order.triggered_at, order.reject_reason = 1, 2, timezone.now(), "not written"
    first.save(update_fields=list(order_execution._FILL_FIELDS))
    row_update(second, update_fields=order_execution._FILL_FIELDS)
    # then
    assert second.updated_at > before
    stored = [Order.objects.get(pk=order.pk) for order in (first, second)]
    for order, written in zip(stored, (first, second), strict=True):
        assert (order.fill_price_e8, order.fee, order.triggered_at, order.updated_at, order.reject_reason) == (
            1, 2, written.triggered_at, written.updated_at, ""
        )
        assert (order.status, order.entry_id, order.filled_at) == (written.status, written.entry_id, written.filled_at)
