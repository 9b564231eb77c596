"""WAL bytes per transfer: what one `transfer_create` writes to PostgreSQL's write-ahead log, in
total and per table and index, from this checkout or from another one (an earlier commit).

Run (PostgreSQL only, on the database server's machine as a user that can read its `pg_wal`
directory; the database named in DATABASE_URL is dropped and recreated, so its name must
contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_wal .venv/bin/python bench/wal_per_transfer.py
    git worktree add /tmp/before <commit>
    DATABASE_URL=... .venv/bin/python bench/wal_per_transfer.py --root /tmp/before

One process, one connection: one client with `--accounts` funded USD accounts and one webhook
endpoint (so each transfer also writes its event and one delivery), `--warm` random transfers of
history, then ANALYZE and a CHECKPOINT (so each page's first change after it carries a full-page
image, as in steady running), then `--transfers` random transfers through
`ledger.services.transfer_create`, compliance observers on. The server is shared, so the WAL is
not counted as an LSN difference: `pg_waldump` reads the range and only records of this database's
relations (and the commit records of its transactions) are counted; a temporary replication slot
keeps the range until it is read. No wall-clock figure: the count does not depend on the load.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from api_transfers import PYTHON, ROOT, recreate_database
from production_env import production_env

LOAD = """
import json, random, sys
from django.db import connection, transaction
from accounts.services import client_create, user_create
from events.services import webhook_endpoint_create
from ledger.models import Account, Currency
from ledger.services import account_create, deposit_create, system_account_get, transfer_create

accounts_wanted, warm, transfers = (int(value) for value in sys.argv[1:4])
client = client_create(name="WAL client")
usd = Currency.objects.get(code="USD")
system_account_get(client=client, currency=usd, kind=Account.Kind.FUNDING)
webhook_endpoint_create(client_id=client.pk, url="http://127.0.0.1:9/hook")
accounts = []
for n in range(accounts_wanted):
    account = account_create(user=user_create(client=client, external_id=f"wal-{n}"), currency=usd)
    deposit_create(account=account, amount=10**12)
    accounts.append(account.pk)
rng = random.Random(7)

def run(count):
    for _ in range(count):
        sender, recipient = rng.sample(accounts, 2)
        with transaction.atomic():
            pair = Account.objects.in_bulk([sender, recipient])
            transfer_create(from_account=pair[sender], to_account=pair[recipient], amount=1)

run(warm)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
    cursor.execute("CHECKPOINT")
    cursor.execute("SELECT pg_current_wal_lsn()::text, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
    start, checkpoints = cursor.fetchone()
run(transfers)
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_current_wal_lsn()::text, checkpoints_timed + checkpoints_req - %s FROM pg_stat_bgwriter",
                   [checkpoints])
    end, checkpoints = cursor.fetchone()
    cursor.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                   "WHERE relname IN ('ledger_account', 'operations_movementcount')")
    updates = cursor.fetchall()
print(json.dumps({"start": start, "end": end, "checkpoints": checkpoints, "updates": updates}))
"""

RECORD = re.compile(r"len \(rec/tot\):\s*(\d+)/\s*(\d+), tx:\s*(\d+)")
BLOCK = re.compile(r"rel \d+/(\d+)/(\d+)")


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT), help="the checkout to measure (default: this one)")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=3000)
    parser.add_argument("--transfers", type=int, default=4000)
    parser.add_argument("--waldump", default="", help="pg_waldump of the server's version (default: pg_config's)")
    options = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    database = urlparse(database_url).path.lstrip("/")
    if not database_url.startswith("postgres") or "bench" not in database:
        sys.exit("Set DATABASE_URL=postgres://.../<name containing 'bench'>: that database is dropped and recreated.")
    root = Path(options.root).resolve()
    env = production_env(WEBHOOK_ALLOW_PRIVATE_URLS="1", PYTHONPATH=str(root))
    recreate_database(database_url, database)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=root, check=True)

    with psycopg.connect(database_url, autocommit=True) as connection:
        # Keeps the WAL from here on until this connection closes (a temporary slot).
        connection.execute("SELECT pg_create_physical_replication_slot('bench_wal_per_transfer', true, true)")
        loaded = subprocess.run(
            [PYTHON, "-c", f"import django; django.setup()\n{LOAD}", str(options.accounts), str(options.warm),
             str(options.transfers)],
            env=env, cwd=root, check=True, capture_output=True, text=True,
        )
        measured = json.loads(loaded.stdout.splitlines()[-1])
        database_oid = str(connection.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
                           .fetchone()[0])
        names = dict(connection.execute(
            "SELECT pg_relation_filenode(oid)::text, relname FROM pg_class WHERE pg_relation_filenode(oid) IS NOT NULL"
        ).fetchall())
        wal_directory = Path(connection.execute("SHOW data_directory").fetchone()[0]) / "pg_wal"
        dump = subprocess.run(
            [options.waldump or _waldump(), "-p", str(wal_directory), "-s", measured["start"], "-e", measured["end"]],
            capture_output=True, text=True,
        )
    records = []
    for line in dump.stdout.splitlines():
        if found := RECORD.search(line):
            sizes = int(found.group(1)), int(found.group(2))
            records.append((sizes, found.group(3), BLOCK.findall(line), "FPW" in line))
    ours = {tx for _, tx, blocks, _ in records if blocks and blocks[0][0] == database_oid}
    per_relation: collections.Counter[str] = collections.Counter()
    images = without_images = 0
    for (size_without_images, size), tx, blocks, image in records:
        if blocks and blocks[0][0] == database_oid:
            per_relation[names.get(blocks[0][1], blocks[0][1])] += size
            images += image
            without_images += size_without_images
        elif not blocks and tx != "0" and tx in ours:
            per_relation["(commit records)"] += size
            without_images += size_without_images
    transfers = options.transfers
    total = sum(per_relation.values())
    print(f"{transfers} transfers after {options.accounts} deposits and {options.warm} transfers "
          f"({options.accounts} accounts, one webhook endpoint), from {root}:")
    print(f"WAL of this database: {total} bytes, {total / transfers:.0f} per transfer; "
          f"{without_images / transfers:.0f} per transfer without full-page images "
          f"({images} records carried one; checkpoints during the run: {measured['checkpoints']})")
    print(f"updates (table, all, heap-only): {measured['updates']}")
    for name, size in per_relation.most_common():
        print(f"  {size / transfers:8.0f}  {name}")
    if dump.returncode:
        sys.exit(f"pg_waldump: {dump.stderr[-1000:]}")


def _waldump() -> str:
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        return "pg_waldump"
    return str(Path(bindir) / "pg_waldump") if bindir else "pg_waldump"


if __name__ == "__main__":
    main()
