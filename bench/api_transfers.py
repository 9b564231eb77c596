"""Money movements per second through the HTTP API, against a pgbench ceiling measured in the
same run: gunicorn (2 workers), production settings, PostgreSQL, Redis for the shared cache.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api_transfers.py
    DATABASE_URL=... .venv/bin/python bench/api_transfers.py --modes single,hot --seconds 10

Modes (each prints transfers/s and its ratio to pgbench running our transfer SQL on the same
accounts at the same concurrency, measured right after it):
- single:   POST /api/v1/transfers/ between two random accounts of 1,000.
- hot:      the same over 8 accounts, so requests queue on the same rows.
- batch:    POST /api/v1/transfers/batch/ with 100 random transfers each, all or none.
- deposits: POST /api/v1/deposits/ to a random account: every one moves money out of the
            client's one funding account (a system account that may go negative).

Every request carries a fresh Idempotency-Key and goes through API-key authentication, throttling,
the idempotency record, compliance review, the ledger and a JSON log line. The load generator is
wrk (apt-get install wrk) with a Lua script, `--connections` (16) connections over 2 threads;
without wrk, Python threads with one requests.Session each. The tables seeding loaded are
ANALYZEd, the empty ones left alone, as autovacuum would leave them (it may be off here;
`bench/table_statistics.py` says why an ANALYZEd empty table misleads the planner); transfers/s is
counted from the journal, not from replies, and `verify_ledger` runs at the end (its exit code is
the script's).

With --seconds 180 or more a mode also prints its first and last minute's rate (flat with
history: the last should be at least 90% of the first; `--modes single --seconds 1800`). The
pgbench ceiling runs for as long as the mode, at most 60 s.

Options: --modes single,hot,batch,deposits, --seconds 20 (per mode), --connections 16,
--workers 2 (gunicorn processes), --accounts 1000, --hot-accounts 8, --batch-size 100,
--port 8100, --cache-url redis://127.0.0.1:6379/1, --log-file (default: a temporary file).
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import requests
from pgbench_ceiling import pgbench_transfers_per_second
from production_env import production_env
from table_statistics import ANALYZE_LOADED

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
OPENING_BALANCE = "1000000.00"  # USD per account: transfers below never run one dry
MODES = ("single", "hot", "batch", "deposits")

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
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    # With the database on the same 2 cores, 2 gunicorn workers beat 4 and 8 (measured).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--hot-accounts", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--log-file", default="")
    parser.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    options = parser.parse_args()
    modes = [mode for mode in options.modes.split(",") if mode]
    if unknown := set(modes) - set(MODES):
        sys.exit(f"unknown modes: {sorted(unknown)}")

    database_url = os.environ.get("DATABASE_URL", "")
    database = urlparse(database_url).path.lstrip("/")
    if not database_url.startswith("postgres") or "bench" not in database:
        sys.exit("Set DATABASE_URL=postgres://.../<name containing 'bench'>: that database is dropped and recreated.")
    env = production_env(API_THROTTLE_RATE="1000000/min", CACHE_URL=options.cache_url)
    recreate_database(database_url, database)
    manage(env, "migrate", "--noinput", "-v", "0")
    keys = max(2, options.connections)
    print(f"seeding {options.accounts} funded accounts and {keys} API keys …", flush=True)
    seeded = json.loads(
        subprocess.run(
            [PYTHON, "-c", f"import django; django.setup()\n{SEED}", str(keys), str(options.accounts),
             OPENING_BALANCE],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout.splitlines()[-1]
    )
    sql(database_url, ANALYZE_LOADED)  # the seeded tables' statistics, as autovacuum would leave them
    print("seeded tables ANALYZEd", flush=True)

    base_url = f"http://127.0.0.1:{options.port}"
    log_path = options.log_file or tempfile.mkstemp(prefix="bench-api-", suffix=".log")[1]
    print(f"load {options.load}, {options.connections} connections, {options.workers} gunicorn workers, "
          f"cache {options.cache_url}; server logs in {log_path}", flush=True)
    log_file = open(log_path, "w")  # noqa: SIM115 - open for the server's whole life
    server = subprocess.Popen(
        [GUNICORN, "config.wsgi", "--workers", str(options.workers), "--threads", str(options.threads),
         "--bind", f"127.0.0.1:{options.port}",
         "--log-level", "warning"],
        env=env, cwd=ROOT, start_new_session=True, stdout=log_file, stderr=subprocess.STDOUT,
    )
    summary = []
    try:
        wait_until_up(base_url)
        for mode in modes:
            accounts = seeded["accounts"][: options.hot_accounts] if mode == "hot" else seeded["accounts"]
            kind = "deposit" if mode == "deposits" else "transfer"
            started = sql(database_url, "SELECT now()")[0]
            load = run_wrk if options.load == "wrk" else run_threads
            replies = load(base_url, seeded["keys"], accounts, mode, options)
            ended = sql(database_url, "SELECT now()")[0]
            # Requests still queued in gunicorn when the load stops finish before the ceiling runs;
            # only entries written within the load's window count.
            drain(database_url)
            ours = journal_count(database_url, kind, started, ended) / (ended - started).total_seconds()
            # The ceiling, measured now on the same machine, tables and accounts, at equal concurrency.
            theirs = pgbench_transfers_per_second(
                database_url=database_url, clients=options.connections, seconds=min(options.seconds, 60),
                client_id=seeded["client"], first_account=accounts[0], last_account=accounts[-1],
            )
            line = (f"{mode:8} {ours:8.1f} transfers/s ({replies}); pgbench {theirs:7.0f} tps on the same "
                    f"{len(accounts)} accounts; ratio {100 * ours / theirs:5.1f}%")
            if options.seconds >= 180:  # flat with history: the last minute against the first
                minute = timedelta(minutes=1)
                first = journal_count(database_url, kind, started, started + minute) / 60
                last = journal_count(database_url, kind, ended - minute, ended) / 60
                line += f"; first minute {first:.1f}/s, last minute {last:.1f}/s ({100 * last / first:.0f}%)"
            print(line, flush=True)
            summary.append(line)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log_file.close()
    print("\n".join(["", "summary:", *summary]), flush=True)
    print("verify_ledger:", flush=True)
    verified = subprocess.run([PYTHON, "manage.py", "verify_ledger"], env=env, cwd=ROOT)
    sys.exit(verified.returncode)


def sql(database_url: str, statement: str):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchone() if cursor.description else None


def journal_count(database_url: str, kind: str, started, ended) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM ledger_journalentry WHERE kind = %s AND created_at >= %s AND created_at < %s",
            [kind, started, ended],
        ).fetchone()[0]


def drain(database_url: str) -> None:
    """Wait until the server has finished its backlog: no other session of this database busy."""
    busy = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'"
    )
    quiet = 0
    while quiet < 2:
        quiet = quiet + 1 if sql(database_url, busy)[0] == 0 else 0
        time.sleep(0.5)


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


WRK_SCRIPT = r"""
local first, count, mode, batch_size = FIRST, COUNT, "MODE", BATCH
local keys = {KEYS}
local threads = 0
local counter = 0

function setup(thread)
  threads = threads + 1
  thread:set("key", keys[(threads - 1) % #keys + 1])
  thread:set("id", threads)
end

function init(args)
  math.randomseed(id * 7919 + os.time())
end

local function pair()
  local a = math.random(0, count - 1)
  local b = (a + math.random(1, count - 1)) % count
  return first + a, first + b
end

local function amount()
  return string.format("%d.%02d", math.random(0, 9), math.random(1, 99))
end

local function transfer()
  local source, destination = pair()
  return string.format('{"from_account": %d, "to_account": %d, "amount": "%s"}', source, destination, amount())
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Api-Key " .. key,
    ["Idempotency-Key"] = string.format("%d-%d-%d", id, counter, math.random(1, 1000000000)),
  }
  if mode == "deposits" then
    local body = string.format('{"account": %d, "amount": "%s"}', first + math.random(0, count - 1), amount())
    return wrk.format("POST", "/api/v1/deposits/", headers, body)
  elseif mode == "batch" then
    local items = {}
    for i = 1, batch_size do items[i] = transfer() end
    return wrk.format("POST", "/api/v1/transfers/batch/", headers,
      '{"atomic": true, "transfers": [' .. table.concat(items, ",") .. ']}')
  end
  return wrk.format("POST", "/api/v1/transfers/", headers, transfer())
end
"""


def run_wrk(base_url: str, keys: list[str], accounts: list[int], mode: str, options) -> str:
    script = (
        WRK_SCRIPT.replace("FIRST", str(accounts[0])).replace("COUNT", str(len(accounts)))
        .replace("MODE", mode).replace("BATCH", str(options.batch_size))
        .replace("{KEYS}", "{" + ", ".join(f'"{key}"' for key in keys) + "}")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        completed = subprocess.run(
            ["wrk", "--threads", "2", "--connections", str(options.connections), "--duration",
             f"{max(1, round(options.seconds))}s", "--timeout", "30s", "--latency", "--script", file.name, base_url],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(file.name)
    output = completed.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return (f"{float(rate.group(1)) if rate else 0:.1f} requests/s, p50 {p50.group(1) if p50 else '?'}, "
            f"p99 {p99.group(1) if p99 else '?'}, non-2xx {failed.group(1) if failed else 0}"
            + (f", socket errors: {errors.group(1)}" if errors else ""))


def run_threads(base_url: str, keys: list[str], accounts: list[int], mode: str, options) -> str:
    """Without wrk: one thread and one requests.Session per connection."""
    stop_at = time.monotonic() + options.seconds
    replies: list[int] = []

    def body(rng: random.Random) -> tuple[str, dict]:
        def transfer() -> dict:
            source, destination = rng.sample(accounts, 2)
            return {"from_account": source, "to_account": destination, "amount": f"{rng.randint(1, 999) / 100:.2f}"}

        if mode == "deposits":
            return "/api/v1/deposits/", {"account": rng.choice(accounts), "amount": f"{rng.randint(1, 999) / 100:.2f}"}
        if mode == "batch":
            transfers = [transfer() for _ in range(options.batch_size)]
            return "/api/v1/transfers/batch/", {"atomic": True, "transfers": transfers}
        return "/api/v1/transfers/", transfer()

    def client(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Api-Key {keys[index % len(keys)]}"
        rng = random.Random(index)  # noqa: S311 - load generation, not security
        while time.monotonic() < stop_at:
            path, payload = body(rng)
            response = session.post(f"{base_url}{path}", json=payload, headers={"Idempotency-Key": uuid.uuid4().hex})
            replies.append(response.status_code)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(options.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = sum(1 for status in replies if status >= 300)
    return f"{len(replies) / options.seconds:.1f} requests/s, non-2xx {failed}"


if __name__ == "__main__":
    main()
