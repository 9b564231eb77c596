"""Transfers per second through `transfer_create`, compared with pgbench doing the same writes.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ledger .venv/bin/python bench/ledger_transfers.py
    make bench-ledger        # the same, with the defaults below

Options: --workers 8 (processes, one connection each), --seconds 10 per mode, --accounts 1000,
--modes uniform,hot, --with-observers (keep settings.LEDGER_ENTRY_OBSERVERS; off by default so
both sides do exactly the same writes).

Modes: "uniform" picks two distinct random accounts per transfer; "hot" makes one shared
account a side of every transfer (direction random), so every transfer queues on one row lock.

pgbench then runs a script with the same statements per transaction as `entry_post` issues for a
transfer (two guarded balance UPDATEs in primary-key order, one journal entry INSERT, one
two-row posting INSERT; the deferred zero-sum trigger fires for both), at the same concurrency,
against the same tables. The figure to watch is ours as a percentage of pgbench's: it is the
cost of Django, the service layer and Python against the bare SQL on this machine.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from pgbench_ceiling import pgbench_transfers_per_second

ROOT = Path(__file__).resolve().parent.parent
OPENING_BALANCE = 100_000_000_00  # per account, in cents: transfers below never run it dry



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--modes", default="uniform,hot")
    parser.add_argument("--with-observers", action="store_true")
    parser.add_argument("--skip-pgbench", action="store_true")
    options = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL=postgres://.../bench_ledger is required (PostgreSQL only).")
    database = urlparse(database_url).path.lstrip("/")
    if "bench" not in database:
        sys.exit(f"Refusing to recreate {database!r}: the benchmark database's name must contain 'bench'.")

    recreate_database(database_url, database)
    setup_django(with_observers=options.with_observers)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    client_id, account_ids = seed(options.accounts)
    queries = queries_per_transfer(client_id, account_ids)

    print(f"{options.workers} workers, {options.seconds:g} s per mode, {options.accounts} accounts, "
          f"{os.cpu_count()} CPUs; {queries} SQL statements per transfer (BEGIN/COMMIT included)")
    ours: dict[str, float] = {}
    for mode in options.modes.split(","):
        ours[mode] = run_workers(mode=mode, options=options, client_id=client_id, account_ids=account_ids)
        print(f"transfer_create  {mode:8s} {ours[mode]:8.0f} transfers/s")
    verify()
    if options.skip_pgbench:
        return
    for mode in ours:
        theirs = run_pgbench(mode=mode, options=options, client_id=client_id, account_ids=account_ids)
        print(f"pgbench          {mode:8s} {theirs:8.0f} transactions/s   "
              f"transfer_create is {100 * ours[mode] / theirs:.0f}% of pgbench")


def recreate_database(database_url: str, database: str) -> None:
    import psycopg

    maintenance = urlparse(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


def setup_django(*, with_observers: bool) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    # DEBUG would record every query in memory and slow each one down.
    os.environ["DEBUG"] = "false"
    import django
    from django.conf import settings

    django.setup()
    if not with_observers:
        settings.LEDGER_ENTRY_OBSERVERS = []


def seed(count: int) -> tuple[int, list[int]]:
    """One client, `count` end users with a funded USD account each, funded by one real deposit entry."""
    from accounts.models import Client, User
    from ledger.models import Account
    from ledger.services import Leg, entry_post, system_account_get

    client = Client.objects.create(name="Benchmark", slug="benchmark")
    users = User.objects.bulk_create(
        User(username=f"bench-{n}", client=client, kind=User.Kind.END_USER, external_id=f"bench-{n}")
        for n in range(count)
    )
    accounts = Account.objects.bulk_create(
        Account(client=client, user=user, currency_id="USD") for user in users
    )
    funding = system_account_get(client=client, currency="USD", kind=Account.Kind.FUNDING)
    entry_post(
        client_id=client.pk,
        kind="deposit",
        legs=[Leg(funding, -OPENING_BALANCE * count), *(Leg(account, OPENING_BALANCE) for account in accounts)],
    )
    account_ids = sorted(account.pk for account in accounts)
    # pgbench addresses accounts as a contiguous id range.
    assert account_ids == list(range(account_ids[0], account_ids[0] + count))
    return client.pk, account_ids


def queries_per_transfer(client_id: int, account_ids: list[int]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger.models import Account
    from ledger.services import transfer_create

    source, destination = Account.objects.select_related("user").filter(pk__in=account_ids[:2])
    with CaptureQueriesContext(connection) as captured:
        transfer_create(from_account=source, to_account=destination, amount=1)
    return len(captured.captured_queries)


def run_workers(*, mode: str, options: argparse.Namespace, client_id: int, account_ids: list[int]) -> float:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(options.workers + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(index, mode, options.seconds, options.with_observers, client_id, account_ids, ready, results),
        )
        for index in range(options.workers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    totals = [results.get(timeout=options.seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    refused = sum(refusals for _, refusals in totals)
    if refused:
        print(f"  ({refused} transfers refused for funds)")
    return sum(done for done, _ in totals) / options.seconds


def worker(index, mode, seconds, with_observers, client_id, account_ids, ready, results) -> None:
    setup_django(with_observers=with_observers)
    from django.db import connection

    from ledger.errors import InsufficientFundsError
    from ledger.models import Account
    from ledger.services import transfer_create

    accounts = list(Account.objects.select_related("user").filter(pk__in=account_ids).order_by("pk"))
    hot = accounts[0]
    chooser = random.Random(index)
    done = refused = 0
    ready.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mode == "hot":
            pair = [hot, chooser.choice(accounts[1:])]
            chooser.shuffle(pair)
        else:
            pair = chooser.sample(accounts, 2)
        try:
            transfer_create(from_account=pair[0], to_account=pair[1], amount=chooser.randint(1, 1000))
            done += 1
        except InsufficientFundsError:
            refused += 1
    connection.close()
    results.put((done, refused))


def verify() -> None:
    from ledger.verification import ledger_verify

    report = ledger_verify(record=False)
    status = "clean" if report.is_ok else f"{len(report.violations)} violations: {report.violations[:3]}"
    checked = f"{report.accounts_checked} accounts, {report.entries_checked} entries"
    print(f"verify_ledger after the runs: {checked}: {status}")


def run_pgbench(*, mode: str, options: argparse.Namespace, client_id: int, account_ids: list[int]) -> float:
    return pgbench_transfers_per_second(
        database_url=os.environ["DATABASE_URL"], clients=options.workers, seconds=options.seconds,
        client_id=client_id, first_account=account_ids[0], last_account=account_ids[-1], hot=mode == "hot",
    )


if __name__ == "__main__":
    main()
