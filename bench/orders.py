"""Order throughput and latency: submit N market orders through the HTTP API while db_worker
processes execute them; print orders/s submitted and filled (fills/s), submit→fill latency
p50/p99, and on PostgreSQL the fill rate as a ratio of a pgbench ceiling measured in the same run
(bench/pgbench_ceiling.py: our transfer SQL on the bench users' USD accounts, same concurrency).

    .venv/bin/python bench/orders.py                       # SQLite file in a temp directory
    ... bench/orders.py --orders 500 --rate 50             # a fixed 50 orders/s: latency, not capacity
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_orders .venv/bin/python bench/orders.py \
        --orders 2000 --clients 16 --web-workers 2 --task-workers 2

The database named by DATABASE_URL is migrated and used as is (use a scratch database); on
PostgreSQL the tables seeding loaded are ANALYZEd (`bench/table_statistics.py`). The API runs
under gunicorn, the workers are `manage.py db_worker` processes, both started here and stopped at
the end. Latency is order.filled_at - order.created_at as recorded by the server.

The API is served with production settings (bench/production_env.py) and, on PostgreSQL, Redis
as the shared cache (`--cache-url`, as production runs it); on SQLite the database cache, so the
script needs nothing installed. With `--drain` the task workers start only once every order is
accepted, and the script also prints how fast the workers alone fill the queued orders (fills/s
with the cores to themselves, apart from PostgreSQL): the workers' capacity, which the first
figure mixes with the web side's when both share the machine.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from production_env import production_env
from table_statistics import ANALYZE_LOADED

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# Run by `manage.py shell -c` before the pgbench ceiling: 1,000,000.00 USD more on each of the
# bench users' USD accounts (the id range in BENCH_ACCOUNTS), deposited through the ledger.
TOP_UP = """
import os
from ledger.models import Account
from ledger.services import deposit_create
first, last = (int(bound) for bound in os.environ["BENCH_ACCOUNTS"].split(","))
for account in Account.objects.filter(pk__range=(first, last), kind="user", currency_id="USD"):
    deposit_create(account=account, amount=100_000_000, reference="bench: room for the pgbench ceiling")
"""

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="Concurrent HTTP clients submitting orders.")
    parser.add_argument("--users", type=int, default=50, help="End users the orders are spread over.")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--task-workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="Submit at this many orders/s (0: as fast as the HTTP clients can).")
    parser.add_argument("--timeout", type=int, default=600, help="Seconds to wait for every order to be final.")
    parser.add_argument("--cache-url", default=None, help="Shared cache (default: redis://127.0.0.1:6379/2 "
                        "on PostgreSQL, the database cache on SQLite).")
    parser.add_argument("--drain", action="store_true",
                        help="Start the task workers once every order is accepted; print the workers' own fill rate.")
    options = parser.parse_args()

    temporary = tempfile.TemporaryDirectory()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{temporary.name}/bench.sqlite3"
    is_postgresql = database_url.startswith("postgres")
    cache_url = options.cache_url or ("redis://127.0.0.1:6379/2" if is_postgresql else "dbcache://django_cache")
    environment = production_env(
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        API_THROTTLE_RATE="100000000/min",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    os.environ.update(environment)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], environment)
    run([PYTHON, "manage.py", "createcachetable"], environment)

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    api_key, client_id, user_ids, account_ids = prepare(users=options.users, orders=options.orders)
    if is_postgresql:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(ANALYZE_LOADED)  # the seeded tables' statistics, as autovacuum would leave them

    port = free_port()
    processes = [
        subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "config.wsgi", "-w", str(options.web_workers), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning"],
            cwd=ROOT, env=environment,
        )
    ]

    def start_workers() -> None:
        processes.extend(
            subprocess.Popen(
                [PYTHON, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.05",
                 "--verbosity", "0"],
                cwd=ROOT, env=environment,
            )
            for _ in range(options.task_workers)
        )

    if not options.drain:
        start_workers()
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_until_up(f"{base}/rates/BTC/", api_key)
        submit_seconds, rejected = submit(base, api_key, user_ids, options)
        if options.drain:
            start_workers()
        results = wait_for_fills(client_id, options.orders, options.timeout)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    fills_per_second = report(options, database_url, submit_seconds, rejected, results)
    if options.drain:
        fills_per_second = report_drain(results)
    # Before the ceiling, which writes outside the ledger's rules: the ledger is only verifiable
    # before it runs.
    print("verify_ledger:", flush=True)
    verified = subprocess.run([PYTHON, "manage.py", "verify_ledger"], cwd=ROOT, env=environment)
    if is_postgresql:
        from pgbench_ceiling import pgbench_transfers_per_second

        # pgbench's transfer script records each posting's running balance from its guarded
        # UPDATE, so a refused debit aborts it: give these small accounts room first, through
        # the ledger (a deposit each), so the database stays verifiable for the next run.
        run([PYTHON, "manage.py", "shell", "-c", TOP_UP],
            {**environment, "BENCH_ACCOUNTS": f"{account_ids[0]},{account_ids[-1]}"})
        ceiling = pgbench_transfers_per_second(
            database_url=database_url, clients=options.clients, seconds=10, client_id=client_id,
            first_account=account_ids[0], last_account=account_ids[-1],
        )
        print(f"pgbench ceiling:     {ceiling:8.0f} transfers/s (same accounts, {options.clients} clients); "
              f"fills are {100 * fills_per_second / ceiling:.1f}% of it")
    sys.exit(verified.returncode)


def prepare(*, users: int, orders: int) -> tuple[str, int, list[int], list[int]]:
    """A client with an API key, `users` funded end users authorized for BTC, and a BTC rate."""
    from accounts.models import User
    from accounts.services import api_key_create, client_create
    from broker.services import rate_update
    from ledger.models import Currency
    from ledger.services import account_create, currency_authorization_grant, deposit_create

    client = client_create(name=f"Bench {time.time_ns()}")
    usd, btc = Currency.objects.get(code="USD"), Currency.objects.get(code="BTC")
    _, plaintext = api_key_create(client=client, name="bench")
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    # Each order buys 0.0001 BTC (6.00 USD + fee, held at +2%); fund every user for its share.
    per_user = (orders // users + 1) * 700
    user_ids, accounts = [], []
    for number in range(users):
        user = User.objects.create(
            username=f"{client.slug}-{number}", client=client, external_id=f"bench-{number}", kind=User.Kind.END_USER
        )
        currency_authorization_grant(user=user, currency=btc)
        accounts.append(account_create(user=user, currency=usd))  # contiguous ids, as pgbench addresses them
        user_ids.append(user.pk)
    for account in accounts:
        deposit_create(account=account, amount=per_user)
    return plaintext, client.pk, user_ids, [account.pk for account in accounts]


def submit(base: str, api_key: str, user_ids: list[int], options) -> tuple[float, int]:
    session_per_thread: dict[int, requests.Session] = {}
    headers = {"Authorization": f"Api-Key {api_key}"}

    def one(index: int) -> int:
        if options.rate:
            # A fixed arrival rate: order `index` leaves at its slot (or as soon as a client is free).
            time.sleep(max(0.0, started + index / options.rate - time.perf_counter()))
        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        body = {"user": user_ids[index % len(user_ids)], "side": "buy", "currency": "BTC", "quantity": "0.0001"}
        return session.post(f"{base}/orders/", json=body, headers=headers, timeout=60).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=options.clients) as pool:
        statuses = list(pool.map(one, range(options.orders)))
    return time.perf_counter() - started, sum(1 for status in statuses if status != 202)


def wait_for_fills(client_id: int, count: int, timeout: int) -> list[tuple]:
    from broker.models import Order

    orders = Order.objects.filter(client_id=client_id)  # this run's orders only: the database may be reused
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not orders.filter(status__in=Order.ACTIVE_STATUSES).exists() and orders.count() >= count:
            break
        time.sleep(0.2)
    return list(orders.values_list("status", "created_at", "filled_at"))


def report(options, database_url: str, submit_seconds: float, rejected: int, results: list[tuple]) -> float:
    filled = [(created, done) for status, created, done in results if status == "filled"]
    latencies = sorted((done - created).total_seconds() * 1000 for created, done in filled)
    fill_span = (max(done for _, done in filled) - min(created for created, _ in filled)).total_seconds()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"database:            {database_url.split('://')[0]}")
    arrival = f"at {options.rate:g} orders/s" if options.rate else "as fast as they go"
    print(f"orders:              {options.orders} market buys {arrival}, {options.clients} HTTP clients, "
          f"{options.web_workers} web workers, {options.task_workers} task workers")
    print(f"submitted:           {options.orders / submit_seconds:8.1f} orders/s  ({submit_seconds:.2f} s, "
          f"{rejected} not accepted)")
    print(f"filled:              {len(filled) / fill_span:8.1f} orders/s  ({len(filled)} filled in {fill_span:.2f} s "
          "from first submit to last fill)")
    print(f"submit→fill latency: p50 {quantiles[49]:.0f} ms, p99 {quantiles[98]:.0f} ms, max {latencies[-1]:.0f} ms")
    not_filled = len(results) - len(filled)
    if not_filled:
        print(f"WARNING: {not_filled} orders not filled")
    return len(filled) / fill_span


def report_drain(results: list[tuple]) -> float:
    """The workers' own rate: the queued orders over the span of their fills (the first fill's
    time less one fill's share, so that a single fill counts)."""
    done = sorted(filled_at for status, _, filled_at in results if status == "filled")
    span = (done[-1] - done[0]).total_seconds() * len(done) / max(len(done) - 1, 1)
    print(f"drained:             {len(done) / span:8.1f} fills/s  ({len(done)} queued orders filled in {span:.2f} s "
          "by the task workers alone)")
    return len(done) / span


def run(command: list[str], environment: dict) -> None:
    subprocess.run(command, cwd=ROOT, env=environment, check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, api_key: str) -> None:
    for _ in range(100):
        try:
            requests.get(url, headers={"Authorization": f"Api-Key {api_key}"}, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"the API did not start at {url}")


if __name__ == "__main__":
    main()
