"""As-of balance reads and statement pages on an account with 10 postings and one with 1,000,000.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h11_bench .venv/bin/python bench/history_asof.py

Options: --postings 1000000 (the big account), --reads 300 (as-of reads per account).

The small account gets its 10 postings through `deposit_create`. The big one gets its history by
one INSERT … SELECT over generate_series (entries, then postings with their sequence,
balance_after and posted_at one second apart, the client's funding account on the other side),
with the zero-sum trigger switched off for the load only (every generated entry balances), then
VACUUM ANALYZE (autovacuum may be off; without it the planner has no statistics).

Printed: the as-of read (`ledger.history.account_balance_as_of`, one query) at random instants
for both accounts — median and p95 in ms, in process, through the ORM — then the keyset page query
of a statement (100 rows, as the paginator issues it) at page 1 and at page 10,000, and the whole
`GET /accounts/{id}/statement/` request for page 1 and a deep cursor over a one-day period and
over the whole history (its totals are one range sum, O(postings in the period)), and
`GET /transactions/?account=` (the account's journal, newest first) at page 1 and 100,000 entries
deep, with the ratio deep / page 1 (the target: within 2×).
"""

import argparse
import base64
import os
import random
import statistics
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(database_url: str, database: str) -> None:
    import psycopg

    maintenance = urlparse(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # not one log line per request
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected
    import django
    from django.conf import settings

    django.setup()
    settings.LEDGER_ENTRY_OBSERVERS = []


BIG_HISTORY = """
ALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_entry_balanced;
INSERT INTO ledger_journalentry (id, client_id, kind, reference, metadata, created_at)
SELECT %(first_entry)s + i, %(client)s, 'adjustment', '', '{}', %(start)s + i * interval '1 second'
FROM generate_series(1, %(count)s) AS i;
INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at)
SELECT %(first_entry)s + i, %(big)s,
       CASE WHEN i %% 2 = 1 THEN 100 ELSE -40 END,
       i, 100 * ((i + 1) / 2) - 40 * (i / 2), 0, %(start)s + i * interval '1 second'
FROM generate_series(1, %(count)s) AS i;
INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at)
SELECT %(first_entry)s + i, %(funding)s,
       CASE WHEN i %% 2 = 1 THEN -100 ELSE 40 END,
       %(funding_sequence)s + i, %(funding_balance)s - (100 * ((i + 1) / 2) - 40 * (i / 2)), 0,
       %(start)s + i * interval '1 second'
FROM generate_series(1, %(count)s) AS i;
UPDATE ledger_account SET balance = 100 * ((%(count)s + 1) / 2) - 40 * (%(count)s / 2), sequence = %(count)s
WHERE id = %(big)s;
UPDATE ledger_account
SET balance = %(funding_balance)s - (100 * ((%(count)s + 1) / 2) - 40 * (%(count)s / 2)),
    sequence = %(funding_sequence)s + %(count)s
WHERE id = %(funding)s;
SELECT setval(pg_get_serial_sequence('ledger_journalentry', 'id'), %(first_entry)s + %(count)s);
"""


def seed(postings: int):
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Client, User
    from accounts.services import api_key_create
    from ledger.models import Account, Currency, JournalEntry
    from ledger.services import account_create, deposit_create, system_account_get

    client = Client.objects.create(name="History benchmark", slug="history-bench")
    usd = Currency.objects.get(code="USD")
    small_owner, big_owner = (
        User.objects.create(username=f"history-{n}", client=client, kind=User.Kind.END_USER, external_id=f"h-{n}")
        for n in range(2)
    )
    small = account_create(user=small_owner, currency=usd)
    big = account_create(user=big_owner, currency=usd)
    for amount in range(1, 11):
        deposit_create(account=small, amount=amount * 100)
    funding = system_account_get(client=client, currency="USD", kind=Account.Kind.FUNDING)
    funding.refresh_from_db()
    start = timezone.now() - timedelta(seconds=postings + 3600)
    with transaction.atomic(), connection.cursor() as cursor:
        parameters = {
                "first_entry": JournalEntry.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000,
                "client": client.pk, "big": big.pk, "funding": funding.pk, "count": postings, "start": start,
                "funding_sequence": funding.sequence, "funding_balance": funding.balance,
        }
        for statement in BIG_HISTORY.split(";\n"):
            if statement.strip():
                cursor.execute(statement, parameters)
    with connection.cursor() as cursor:
        # After the commit: the load's deferred foreign-key checks have run by then.
        cursor.execute("ALTER TABLE ledger_posting ENABLE TRIGGER ledger_posting_entry_balanced")
        cursor.execute("VACUUM ANALYZE ledger_posting")
        cursor.execute("VACUUM ANALYZE ledger_journalentry")
        cursor.execute("VACUUM ANALYZE ledger_account")
    _, api_key = api_key_create(client=client, name="bench")
    small.refresh_from_db()
    big.refresh_from_db()
    return small, big, api_key


def timed(function, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=300)
    options = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL=postgres://.../h11_bench is required (PostgreSQL only).")
    database = urlparse(database_url).path.lstrip("/")
    if "bench" not in database:
        sys.exit(f"Refusing to recreate {database!r}: the benchmark database's name must contain 'bench'.")

    recreate_database(database_url, database)
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from ledger.history import account_balance_as_of
    from ledger.models import Posting

    call_command("migrate", verbosity=0)
    load = os.getloadavg()
    started = time.perf_counter()
    small, big, api_key = seed(options.postings)
    print(f"seeded {options.postings:,} postings in {time.perf_counter() - started:.1f} s; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    generator = random.Random(11)
    for label, account in (("10 postings", small), (f"{options.postings:,} postings", big)):
        instants = list(Posting.objects.filter(account=account).order_by("sequence").values_list("posted_at", flat=True)
                        [:: max(1, account.sequence // 1000)])
        first, last = instants[0], instants[-1]
        span = (last - first).total_seconds()

        def read(account=account, first=first, span=span):
            instant = first + timedelta(seconds=generator.uniform(-1, span + 1))
            account_balance_as_of(account=account, as_of=instant)

        timed(read, 20)  # warm the connection and caches
        median, p95 = timed(read, options.reads)
        print(f"as-of read, account with {label}: median {median:.3f} ms, p95 {p95:.3f} ms")

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT balance_after FROM ledger_posting "
            "WHERE account_id = %s AND posted_at <= %s ORDER BY posted_at DESC, sequence DESC LIMIT 1",
            [big.pk, Posting.objects.get(account=big, sequence=big.sequence // 2).posted_at],
        )
        print("plan of the as-of lookup on the big account (mid-history instant):")
        for (line,) in cursor.fetchall():
            print("   ", line)

    deep_cursor = big.sequence - 100 if big.sequence < 1_000_000 else 999_900

    def page(after: int):
        return lambda: list(
            Posting.objects.filter(account_id=big.pk, sequence__gt=after, sequence__lte=big.sequence)
            .select_related("entry", "account__currency").order_by("sequence")[:101]
        )

    for name, after in (("page 1", 0), ("page 10,000", deep_cursor)):
        median, p95 = timed(page(after), 100)
        print(f"statement page query (100 rows), {name}: median {median:.3f} ms, p95 {p95:.3f} ms")

    client = APIClient(SERVER_NAME="localhost")
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {api_key}"}
    last_day_start = Posting.objects.get(account=big, sequence=big.sequence).posted_at - timedelta(days=1)
    first_start = Posting.objects.get(account=big, sequence=1).posted_at
    for period, start in (("last day", last_day_start), ("whole history", first_start)):
        base = f"/api/v1/accounts/{big.pk}/statement/?from={start.isoformat().replace('+', '%2B')}"
        first_page = client.get(base, **auth)
        assert first_page.status_code == 200, first_page.content
        # the cursor DRF's CursorPagination writes for "after this sequence"
        after = big.sequence - 100
        deep = f"{base}&cursor={quote(base64.b64encode(f'p={after}'.encode()).decode())}"
        assert client.get(deep, **auth).json()["entries"][0]["sequence"] == after + 1
        for name, url in (("page 1", base), (f"after sequence {after:,}", deep)):
            median, p95 = timed(lambda url=url: client.get(url, **auth), 30)
            print(f"GET statement ({period}), {name}: median {median:.2f} ms, p95 {p95:.2f} ms")

    # The account's journal, newest first: the cursor is an entry id read from its postings.
    journal = f"/api/v1/transactions/?account={big.pk}"
    newest = client.get(journal, **auth)
    assert newest.status_code == 200, newest.content
    depth = min(100_000, big.sequence - 100)
    deep_entry = Posting.objects.get(account=big, sequence=big.sequence - depth).entry_id
    deep = f"{journal}&cursor={quote(base64.b64encode(f'p={deep_entry}'.encode()).decode())}"
    assert client.get(deep, **auth).json()["results"][0]["id"] < deep_entry
    medians = {}
    for name, url in (("page 1", journal), (f"{depth:,} entries deep", deep)):
        medians[name], p95 = timed(lambda url=url: client.get(url, **auth), 30)
        print(f"GET transactions?account=, {name}: median {medians[name]:.2f} ms, p95 {p95:.2f} ms")
    page_1, deepest = medians.values()
    print(f"history page {depth:,} entries deep / page 1: {deepest / page_1:.2f}× (target ≤ 2×)")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
