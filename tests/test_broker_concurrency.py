"""Concurrent orders on PostgreSQL: threads with their own connections, as separate API workers.

Holds are one guarded UPDATE each, so simultaneous orders from one user can never reserve more
than the user has; fills are serialised per order by its row lock. Money is conserved per
currency and `ledger_verify` finds nothing wrong.
"""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from broker.models import Order
from broker.services import OrderRequest, order_cancel, order_execute, order_submit, orders_evaluate, rate_update
from core.errors import DomainError
from ledger.models import Account, Currency, Hold
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account

THREADS = 12
ORDERS_PER_THREAD = 5


def run_in_threads(target, count: int) -> list:
    barrier = threading.Barrier(count)
    outcomes: list = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            result = target(index)
        except DomainError as error:
            result = error.code
        except Exception as error:  # noqa: BLE001 - an unexpected failure fails the test below
            result = error
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_simultaneous_orders_from_one_user_never_overspend(requires_postgres):
    # Given 1,000.00 USD and BTC at 60,000: a 0.001 BTC market buy holds 61.20 + 0.31 fee, so
    # at most 16 of the 60 orders can be accepted.
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = EndUserFactory(client=ClientFactory(fee_bps=50))
    usd = open_account(user, "USD", deposit=100_000)
    open_account(user, "BTC")
    btc_currency = Currency.objects.get(code="BTC")

    def submit_many(index: int) -> list:
        accepted = []
        for _ in range(ORDERS_PER_THREAD):
            try:
                accepted.append(order_submit(request=OrderRequest(
                    user=user, side="buy", currency=btc_currency, quantity=100_000,
                )).pk)
            except DomainError as error:
                accepted.append(error.code)
        return accepted

    # When 12 threads submit 5 orders each at the same moment
    outcomes = [item for batch in run_in_threads(submit_many, THREADS) for item in batch]

    # Then exactly as many were accepted as the money covers, the rest refused cleanly
    accepted = [item for item in outcomes if isinstance(item, int)]
    assert len(accepted) == 100_000 // 6_151
    assert set(outcomes) - set(accepted) == {"insufficient_funds"}
    usd.refresh_from_db()
    assert usd.held == 6_151 * len(accepted) <= usd.balance

    # When workers execute them all concurrently (each twice: a duplicate delivery)
    run_in_threads(lambda index: order_execute(order_id=accepted[index % len(accepted)]), len(accepted) * 2)

    # Then every accepted order filled once, nothing is held, money is conserved
    assert Order.objects.filter(status=Order.Status.FILLED).count() == len(accepted)
    usd.refresh_from_db()
    assert (usd.balance, usd.held) == (100_000 - len(accepted) * (6_000 + 30), 0)
    assert Account.objects.get(user=user, currency_id="BTC").balance == len(accepted) * 100_000
    assert Hold.objects.filter(status=Hold.Status.ACTIVE).count() == 0
    for code in ("USD", "BTC"):
        assert Account.objects.filter(currency_id=code).aggregate(total=Sum("balance"))["total"] == 0
    assert ledger_verify(record=False).is_ok


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rate_evaluation_racing_cancels_fills_or_cancels_each_order_once(requires_postgres):
    # Given resting limit sells from several users
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    client = ClientFactory(fee_bps=50)
    btc_currency = Currency.objects.get(code="BTC")
    orders = []
    for _ in range(8):
        user = EndUserFactory(client=client)
        open_account(user, "USD")
        open_account(user, "BTC", deposit=1_000_000)
        order = order_submit(request=OrderRequest(
            user=user, side="sell", type="limit", currency=btc_currency, quantity=1_000_000,
            limit_price_e8=61_000 * 10**8,
        ))
        orders.append(order_execute(order_id=order.pk))
    rate_update(currency="BTC", price_e8=62_000 * 10**8)

    # When evaluators and cancellations run at the same time
    def work(index: int):
        if index < 4:
            return orders_evaluate(currency_code="BTC")
        return order_cancel(order=orders[index % len(orders)]).status

    outcomes = run_in_threads(work, 12)

    # Then each order ended filled or cancelled exactly once, and the books balance
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    statuses = list(Order.objects.values_list("status", flat=True))
    assert set(statuses) <= {Order.Status.FILLED, Order.Status.CANCELLED}
    filled = statuses.count(Order.Status.FILLED)
    assert Account.objects.filter(kind="user", currency_id="BTC").aggregate(total=Sum("balance"))["total"] == (
        8 - filled
    ) * 1_000_000
    assert Hold.objects.filter(status=Hold.Status.ACTIVE).count() == 0
    assert ledger_verify(record=False).is_ok
