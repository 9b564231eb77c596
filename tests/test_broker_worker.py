"""The order worker for real: the database task backend, `db_worker`, faults, the sweeper, and the
rate-loading command."""

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from broker.models import Order, Rate, RateHistory
from broker.services import OrderRequest, order_execute, order_submit, rate_update
from broker.services import order_execution as order_services
from ledger.models import Account, Currency, JournalEntry
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account
from tests.fixtures import ledger_snapshot


def _funded_user():
    user = EndUserFactory(client=ClientFactory(fee_bps=50))
    open_account(user, "USD", deposit=1_000_000)
    open_account(user, "BTC")
    return user


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_submitted_order_is_enqueued_on_commit_and_filled_by_db_worker():
    # Given a rate and a funded user, with the database task backend (the settings default)
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = _funded_user()

    # When an order is submitted (its transaction commits)
    order = order_submit(request=OrderRequest(
        user=user, side="buy", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
    ))

    # Then a task is waiting, and db_worker executes it
    assert DBTaskResult.objects.filter(task_path="broker.tasks.order_execute_task", status="READY").count() == 1
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert DBTaskResult.objects.filter(task_path="broker.tasks.order_execute_task", status="SUCCESSFUL").count() == 1
    assert Account.objects.get(user=user, currency_id="USD").balance == 1_000_000 - 60_300

    # When the rate crosses a resting limit order, the rate change enqueues the evaluation
    resting = order_submit(request=OrderRequest(
        user=user, side="sell", type="limit", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
        limit_price_e8=61_000 * 10**8,
    ))
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    rate_update(currency="BTC", price_e8=61_500 * 10**8)
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    resting.refresh_from_db()
    assert (resting.status, resting.fill_price_e8) == (Order.Status.FILLED, 61_500 * 10**8)
    assert ledger_verify(record=False).is_ok


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_order_executed_twice_at_once_fills_once(requires_postgres):
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = _funded_user()
    order = order_submit(request=OrderRequest(
        user=user, side="buy", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
    ))
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            order_execute(order_id=order.pk)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert JournalEntry.objects.filter(kind="trade").count() == 1
    assert Account.objects.get(user=user, currency_id="USD").balance == 1_000_000 - 60_300
    assert Account.objects.get(user=user, currency_id="USD").held == 0
    assert ledger_verify(record=False).is_ok


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_fill_leaves_nothing_and_the_retry_fills_once(monkeypatch):
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = _funded_user()
    order = order_submit(request=OrderRequest(
        user=user, side="buy", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
    ))
    before = ledger_snapshot()

    # The journal entry and balance updates are written, then the worker dies before the order
    # row is marked filled: the transaction never commits.
    def killed(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(order_services, "_order_record_fill", killed)
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    assert ledger_snapshot() == before
    assert DBTaskResult.objects.get(task_path="broker.tasks.order_execute_task").status == "FAILED"
    monkeypatch.undo()

    # The sweeper (or a retried task) runs it again: one fill.
    call_command("sweep_orders", stale_after=0, stdout=StringIO())
    order_execute(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert JournalEntry.objects.filter(kind="trade").count() == 1
    assert Account.objects.get(user=user, currency_id="USD").balance == 1_000_000 - 60_300
    assert ledger_verify(record=False).is_ok


def test_sweep_orders_expires_past_expiry_orders(db, capsys):
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    user = _funded_user()
    order = order_submit(request=OrderRequest(
        user=user, side="buy", type="limit", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
        limit_price_e8=50_000 * 10**8, expires_at=timezone.now() + timedelta(minutes=5),
    ))
    order_execute(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    call_command("sweep_orders")

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert Account.objects.get(user=user, currency_id="USD").held == 0
    assert "expired checked: 1" in capsys.readouterr().out


def test_load_rates_from_csv_and_json(db, tmp_path):
    csv_file = tmp_path / "rates.csv"
    csv_file.write_text("currency,price\nBTC,65000.12\neth,3200.5\n")
    json_file = tmp_path / "rates.json"
    json_file.write_text(json.dumps([{"currency": "DOGE", "price": "0.15"}]).replace('"0.15"', "0.15"))

    call_command("load_rates", str(csv_file), stdout=StringIO())
    call_command("load_rates", str(json_file), stdout=StringIO())

    assert dict(Rate.objects.values_list("currency_id", "price_e8")) == {
        "BTC": 6_500_012_000_000, "ETH": 320_050_000_000, "DOGE": 15_000_000,
    }
    assert RateHistory.objects.filter(source="file").count() == 3


@pytest.mark.parametrize(
    "content", ["currency,price\nBTC,65000\nETH,-1\n", "currency,price\nBTC,1\nNOPE,2\n", "code,value\nBTC,1\n"]
)
def test_load_rates_with_any_bad_row_loads_nothing(db, tmp_path, content):
    bad = tmp_path / "rates.csv"
    bad.write_text(content)
    with pytest.raises(CommandError):
        call_command("load_rates", str(bad))
    assert Rate.objects.count() == 0 and RateHistory.objects.count() == 0
