"""Transfers per second through the HTTP API: gunicorn, production settings, PostgreSQL.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api_transfers.py

Options: --clients 8 (concurrent HTTP clients: threads, one requests.Session and one API key
each), --seconds 20, --workers <CPU count> (gunicorn processes), --accounts 1000, --port 8100,
--cache-url redis://127.0.0.1:6379/1 (the shared cache production uses for throttling; pass
dbcache://django_cache to measure the embedded default). Gunicorn's JSON request logs go to
--log-file (default: a temporary file), as they would to a log collector.

Each request is `POST /api/v1/transfers/` between two distinct random USD accounts of one client,
with its own API key and a fresh `Idempotency-Key`: authentication (HMAC of the key), throttling
(database cache), the idempotency record, the guarded balance updates, the journal entry and its
postings and the JSON rendering are all in the measured path. Afterwards `verify_ledger` checks
every balance against its postings.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import requests
from pgbench_ceiling import pgbench_transfers_per_second

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
OPENING_BALANCE = "1000000.00"  # USD per account: transfers below never run one dry

SEED = """
import json, sys
from accounts.services import api_key_create, client_create, user_create
from ledger.models import Account, Currency
from ledger.services import account_create, deposit_create, system_account_get
from ledger.money import to_minor_units

clients, accounts = int(sys.argv[1]), int(sys.argv[2])
client = client_create(name="Bench client")
keys = [api_key_create(client=client, name=f"bench-{n}")[1] for n in range(clients)]
usd = Currency.objects.get(code="USD")
# The funding account first, so the user accounts form the contiguous id range pgbench addresses.
system_account_get(client=client, currency=usd, kind=Account.Kind.FUNDING)
ids = []
for n in range(accounts):
    account = account_create(user=user_create(client=client, external_id=f"bench-{n}"), currency=usd)
    deposit_create(account=account, amount=to_minor_units(sys.argv[3], scale=usd.scale))
    ids.append(account.pk)
assert ids == list(range(ids[0], ids[0] + len(ids)))
print(json.dumps({"client": client.pk, "keys": keys, "accounts": ids}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    # One gunicorn process per core: the database shares these cores, and on 2 cores more
    # processes only add context switches (measured: 2 workers 50 req/s, 4 → 45, 8 → 40).
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    # The same account count as bench/ledger_transfers.py, so both measure the same pgbench ceiling.
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--log-file", default="")
    options = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    database = urlparse(database_url).path.lstrip("/")
    if not database_url.startswith("postgres") or "bench" not in database:
        sys.exit("Set DATABASE_URL=postgres://.../<name containing 'bench'>: that database is dropped and recreated.")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "API_THROTTLE_RATE": "1000000/min",
        "CACHE_URL": options.cache_url,
    }
    recreate_database(database_url, database)
    manage(env, "migrate", "--noinput", "-v", "0")
    print(f"seeding {options.accounts} funded accounts and {options.clients} API keys …", flush=True)
    seeded = json.loads(
        subprocess.run(
            [PYTHON, "-c", f"import django; django.setup()\n{SEED}", str(options.clients), str(options.accounts),
             OPENING_BALANCE],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout.splitlines()[-1]
    )

    base_url = f"http://127.0.0.1:{options.port}"
    log_path = options.log_file or tempfile.mkstemp(prefix="bench-api-", suffix=".log")[1]
    print(f"cache {options.cache_url}; server logs in {log_path}", flush=True)
    log_file = open(log_path, "w")  # noqa: SIM115 - open for the server's whole life
    server = subprocess.Popen(
        [GUNICORN, "config.wsgi", "--workers", str(options.workers), "--bind", f"127.0.0.1:{options.port}",
         "--log-level", "warning"],
        env=env, cwd=ROOT, start_new_session=True, stdout=log_file, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(base_url)
        results = run_clients(base_url, seeded, options)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log_file.close()

    ours = report(results, options)
    # The ceiling, measured now on the same machine, tables and accounts, at equal concurrency.
    theirs = pgbench_transfers_per_second(
        database_url=database_url, clients=options.clients, seconds=options.seconds, client_id=seeded["client"],
        first_account=seeded["accounts"][0], last_account=seeded["accounts"][-1],
    )
    print(f"pgbench (same writes, {options.clients} clients): {theirs:.0f} transactions/s; "
          f"the API is {100 * ours / theirs:.1f}% of pgbench (target 10%)", flush=True)
    print("verify_ledger:", flush=True)
    verified = subprocess.run([PYTHON, "manage.py", "verify_ledger"], env=env, cwd=ROOT)
    sys.exit(verified.returncode)


def recreate_database(database_url: str, database: str) -> None:
    import psycopg

    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], env=env, cwd=ROOT, check=True)


def wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/api/v1/", headers={"Accept": "application/json"}, timeout=5).ok:
                return
        except requests.RequestException:
            pass  # workers still booting
        time.sleep(0.2)
    sys.exit("gunicorn did not come up within 30 s")


def run_clients(base_url: str, seeded: dict, options) -> list[tuple[float, int]]:
    accounts = seeded["accounts"]
    stop_at = time.monotonic() + options.seconds
    results: list[list[tuple[float, int]]] = [[] for _ in range(options.clients)]

    def client(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Api-Key {seeded['keys'][index]}"
        rng = random.Random(index)  # noqa: S311 - load generation, not security
        while time.monotonic() < stop_at:
            source, destination = rng.sample(accounts, 2)
            body = {"from_account": source, "to_account": destination, "amount": f"{rng.randint(1, 1000) / 100:.2f}"}
            started = time.perf_counter()
            response = session.post(
                f"{base_url}/api/v1/transfers/", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            results[index].append((time.perf_counter() - started, response.status_code))

    threads = [threading.Thread(target=client, args=(index,)) for index in range(options.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for per_client in results for result in per_client]


def report(results: list[tuple[float, int]], options) -> float:
    latencies = sorted(latency for latency, _ in results)
    errors = sum(1 for _, status in results if status != 201)
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{len(results)} transfers in {options.seconds:.0f} s with {options.clients} clients, "
        f"{options.workers} gunicorn workers: {len(results) / options.seconds:.0f} requests/s, "
        f"p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms, errors {errors}",
        flush=True,
    )
    return len(results) / options.seconds


if __name__ == "__main__":
    main()
