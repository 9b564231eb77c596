"""Balance reads per second through the HTTP API: `GET /api/v1/users/{id}/balances/` for random users,
from this checkout or from another one (an earlier commit), so a change is measured against what
it replaced in the same session on the same machine.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_reads .venv/bin/python bench/api_reads.py
    # the same against an earlier commit, checked out next to this one
    git worktree add /tmp/before <commit>
    DATABASE_URL=... .venv/bin/python bench/api_reads.py --root /tmp/before

The server is gunicorn (`--workers`, 2) with production settings, Redis as the shared cache, as in
`bench/api_transfers.py`, whose seeding it reuses (one client, `--accounts` funded USD accounts,
one user each, 16 API keys); the tables seeding loaded are ANALYZEd (`bench/table_statistics.py`).
The load is wrk with 16 connections for `--seconds`. Printed: requests/s, p50, p99 and non-2xx.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from api_transfers import OPENING_BALANCE, PYTHON, ROOT, SEED, recreate_database, sql, wait_until_up
from production_env import production_env
from table_statistics import ANALYZE_LOADED

WRK_SCRIPT = r"""
local users = {USERS}
local keys = {KEYS}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("key", keys[(threads - 1) % #keys + 1])
  thread:set("id", threads)
end

function init(args)
  math.randomseed(id * 7919 + os.time())
end

function request()
  local user = users[math.random(1, #users)]
  return wrk.format("GET", string.format("/api/v1/users/%d/balances/", user),
    {["Authorization"] = "Api-Key " .. key, ["Accept"] = "application/json"})
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT), help="the checkout to serve (default: this one)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/1")
    options = parser.parse_args()
    root = Path(options.root).resolve()

    database_url = os.environ.get("DATABASE_URL", "")
    database = urlparse(database_url).path.lstrip("/")
    if not database_url.startswith("postgres") or "bench" not in database:
        sys.exit("Set DATABASE_URL=postgres://.../<name containing 'bench'>: that database is dropped and recreated.")
    env = production_env(API_THROTTLE_RATE="1000000/min", CACHE_URL=options.cache_url, LOG_LEVEL="WARNING")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
    recreate_database(database_url, database)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=root, check=True)
    seeded = json.loads(
        subprocess.run(
            [PYTHON, "-c", f"import django; django.setup()\n{SEED}", "16", str(options.accounts), OPENING_BALANCE],
            env=env, cwd=root, check=True, capture_output=True, text=True,
        ).stdout.splitlines()[-1]
    )
    first, last = seeded["accounts"][0], seeded["accounts"][-1]
    users = [row[0] for row in _rows(database_url, first, last)]
    sql(database_url, ANALYZE_LOADED)
    print(f"serving {root} at {commit.strip()}; {len(users)} users; load average {os.getloadavg()[0]:.2f}", flush=True)

    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "--workers", str(options.workers),
         "--bind", f"127.0.0.1:{options.port}", "--log-level", "warning"],
        env=env, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{options.port}"
    script = WRK_SCRIPT.replace("{USERS}", "{" + ", ".join(map(str, users)) + "}").replace(
        "{KEYS}", "{" + ", ".join(f'"{key}"' for key in seeded["keys"]) + "}"
    )
    try:
        wait_until_up(base_url)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
            file.write(script)
        output = subprocess.run(
            ["wrk", "--threads", "2", "--connections", str(options.connections), "--duration", f"{options.seconds}s",
             "--latency", "--script", file.name, base_url],
            capture_output=True, text=True, check=True,
        ).stdout
        os.unlink(file.name)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    lines = [line.strip() for line in output.splitlines()]
    picked = [line for line in lines if line.startswith(("Requests/sec", "50%", "99%", "Non-2xx"))]
    print(f"GET /users/{{id}}/balances/ at {commit.strip()}: " + "; ".join(picked), flush=True)


def _rows(database_url: str, first: int, last: int) -> list[tuple]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT user_id FROM ledger_account WHERE id BETWEEN %s AND %s ORDER BY id", [first, last]
        ).fetchall()


if __name__ == "__main__":
    main()
