"""The order worker heals itself, for real: `manage.py db_worker` in a subprocess against
PostgreSQL, (1) through a TCP proxy that cuts its connections and refuses new ones for a while,
(2) killed with SIGKILL mid-task and replaced. Every order ends filled exactly once and the
ledger verifies. PostgreSQL only (the faults are network and lock level)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from broker.models import Order
from broker.services import OrderRequest, order_submit, rate_update
from ledger.models import Currency, JournalEntry
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account

BASE_DIR = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class FlakyProxy:
    """A TCP proxy to PostgreSQL that can cut every connection, and refuse new ones while down."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.down = False
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.cuts += 1

    def close(self):
        self.listener.close()
        self.cut()


def _worker(port: int, log: Path) -> subprocess.Popen:
    settings = connection.settings_dict
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings['USER']}@127.0.0.1:{port}/{settings['NAME']}",
        "CONN_MAX_AGE": "60",  # persistent connections, as in production
        "WORKER_ORPHAN_SECONDS": "3",
        "WORKER_RECOVERY_SECONDS": "1",
        "WORKER_RETRY_MIN_MS": "200",
        "WORKER_RETRY_MAX_MS": "1000",
    }
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2"],
        cwd=BASE_DIR, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
    )


def _orders(count: int) -> list[Order]:
    bitcoin = Currency.objects.get(code="BTC")
    orders = []
    for _ in range(count):
        user = EndUserFactory(client=ClientFactory(fee_bps=50))
        open_account(user, "USD", deposit=1_000_000)
        open_account(user, "BTC")
        orders.append(order_submit(request=OrderRequest(user=user, side="buy", currency=bitcoin, quantity=100_000)))
    return orders


def _wait_until_filled(orders: list[Order], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    ids = [order.pk for order in orders]
    while time.monotonic() < deadline:
        if Order.objects.filter(pk__in=ids, status=Order.Status.FILLED).count() == len(ids):
            return
        time.sleep(0.2)
    statuses = dict(Order.objects.filter(pk__in=ids).values_list("pk", "status"))
    raise AssertionError(f"orders not all filled within {seconds}s: {statuses}")


def _assert_each_filled_once(orders: list[Order]) -> None:
    assert JournalEntry.objects.filter(kind="trade").count() == len(orders)
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.FILLED
    assert ledger_verify(record=False).is_ok


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_worker_rides_out_a_database_outage_and_fills_every_order_once(requires_postgres, tmp_path):
    # Given orders waiting, and a worker whose only way to PostgreSQL is a flaky proxy
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    before_outage = _orders(5)
    settings = connection.settings_dict
    proxy = FlakyProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    log = tmp_path / "worker.log"
    proxy.down = True  # the database is unreachable when the worker starts
    worker = _worker(proxy.port, log)
    try:
        time.sleep(3)
        assert worker.poll() is None, log.read_text()
        # When the database comes back, then goes away again several times while work arrives
        proxy.down = False
        _wait_until_filled(before_outage, seconds=20)
        during_outages = _orders(5)
        for _ in range(3):
            proxy.cut()
            proxy.down = True
            time.sleep(1)
            proxy.down = False
            time.sleep(0.5)
        after_outages = _orders(5)
        # Then the worker is still there and every order is filled exactly once
        _wait_until_filled(during_outages + after_outages, seconds=20)
        assert worker.poll() is None, log.read_text()
    finally:
        _stop(worker)
        proxy.close()
    _assert_each_filled_once(before_outage + during_outages + after_outages)
    output = log.read_text()
    assert "lost the database (attempt 1)" in output
    assert output.count("lost the database") >= 2


def test_a_worker_killed_mid_task_is_replaced_and_its_order_filled_once(requires_postgres, tmp_path):
    # Given five orders, the last of whose rows this test holds locked, so the worker that
    # claims its task blocks inside it (the last: the others are not stale, so nothing but its
    # task touches it)
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    orders = _orders(5)
    settings = connection.settings_dict
    port = int(settings["PORT"] or 5432)
    log = tmp_path / "worker.log"
    last = orders[-1]
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=last.pk)
        doomed = _worker(port, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if DBTaskResult.objects.filter(status="RUNNING", args_kwargs__kwargs__order_id=last.pk).exists():
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the worker never claimed the last task:\n{log.read_text()}")
        # When the worker is killed mid-task (the row lock is released with this transaction)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    assert DBTaskResult.objects.get(args_kwargs__kwargs__order_id=last.pk).status == "RUNNING"
    started = time.monotonic()
    replacement = _worker(port, log)
    try:
        # Then the new worker alone finishes everything, the orphan included, within 60 s
        _wait_until_filled(orders, seconds=60)
        while DBTaskResult.objects.filter(status__in=["RUNNING", "READY"]).exists() and time.monotonic() < started + 60:
            time.sleep(0.2)
        assert time.monotonic() - started < 60
    finally:
        _stop(replacement)
    _assert_each_filled_once(orders)
    # the orphaned task was re-queued and ran again (finding its order already filled)
    orphan = DBTaskResult.objects.get(args_kwargs__kwargs__order_id=last.pk)
    assert orphan.status == "SUCCESSFUL" and len(orphan.worker_ids) == 2
