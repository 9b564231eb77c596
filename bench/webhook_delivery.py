"""Webhook deliveries per second, and how long an event takes to reach its endpoint.

Run (PostgreSQL only; the database named in DATABASE_URL is dropped and recreated, so its name
must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_webhooks .venv/bin/python bench/webhook_delivery.py

Options: --events 500, --workers 2 (`db_worker` processes, polling every --interval 0.1 s), --port 8200,
--mode live|backlog.

A local receiver (a threaded HTTP server in this process) answers 200 to every POST and notes when
each webhook-id arrives. A producer process then writes --events deposits through
`ledger.services.deposit_create`, as fast as it can, for a client with one endpoint: each commit
writes a `transaction.created` event and its delivery, and enqueues the delivery task. The
workers sign and POST them (production settings, with WEBHOOK_ALLOW_PRIVATE_URLS on so that the
receiver may listen on 127.0.0.1).

- `live` (default): the workers run while the events are written. Reported: event-to-delivery
  latency (arrival time minus the event's created_at) p50/p99, and deliveries/s — bounded by how
  fast the producer writes events.
- `backlog`: all events are written first, then the workers start. Reported: deliveries/s from
  the workers' start to the last arrival — the delivery throughput itself.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from production_env import production_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")

PRODUCER = """
import sys
from accounts.services import client_create, user_create
from events.services import webhook_endpoint_create
from ledger.models import Currency
from ledger.services import account_create, deposit_create

events, url = int(sys.argv[1]), sys.argv[2]
client = client_create(name="Webhook bench client")
webhook_endpoint_create(client_id=client.pk, url=url, event_types=["transaction.created"])
user = user_create(client=client, external_id="bench")
account = account_create(user=user, currency=Currency.objects.get(code="USD"))
for _ in range(events):
    deposit_create(account=account, amount=1)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--mode", choices=["live", "backlog"], default="live")
    options = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    database = urlparse(database_url).path.lstrip("/")
    if not database_url.startswith("postgres") or "bench" not in database:
        sys.exit("Set DATABASE_URL=postgres://.../<name containing 'bench'>: that database is dropped and recreated.")
    env = production_env(WEBHOOK_ALLOW_PRIVATE_URLS="1", LOG_LEVEL="WARNING")
    recreate_database(database_url, database)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)

    arrivals: dict[str, tuple[float, float]] = {}  # webhook-id -> (arrival, event created_at), epoch seconds
    done = threading.Event()
    server = receiver(options.port, arrivals, options.events, done)
    workers: list[subprocess.Popen] = []
    try:
        if options.mode == "live":
            workers = start_workers(env, options)
            time.sleep(2)  # the workers boot
        print(f"writing {options.events} deposits (one event each) …", flush=True)
        started = time.time()
        subprocess.run(
            [PYTHON, "-c", f"import django; django.setup()\n{PRODUCER}", str(options.events),
             f"http://127.0.0.1:{options.port}/hooks"],
            env=env, cwd=ROOT, check=True,
        )
        produced = time.time()
        if options.mode == "backlog":
            print(f"starting {options.workers} workers on the backlog …", flush=True)
            workers = start_workers(env, options)
            started = time.time()
        if not done.wait(timeout=options.timeout):
            print(f"timed out: {len(arrivals)} of {options.events} delivered", flush=True)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
        server.shutdown()

    report(arrivals, started=started, produced=produced, options=options)


def start_workers(env: dict, options) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [PYTHON, "manage.py", "db_worker", "--interval", str(options.interval), "--no-startup-delay"],
            env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(options.workers)
    ]


def receiver(port: int, arrivals: dict, expected: int, done: threading.Event) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            arrived = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).timestamp()
            with lock:
                arrivals.setdefault(self.headers["webhook-id"], (arrived, created))
                if len(arrivals) >= expected:
                    done.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def report(arrivals: dict, *, started: float, produced: float, options) -> None:
    if len(arrivals) < 2:
        sys.exit("too few deliveries to report")
    latencies = sorted(arrived - created for arrived, created in arrivals.values())
    first_event = min(created for _, created in arrivals.values())
    last_arrival = max(arrived for arrived, _ in arrivals.values())
    if options.mode == "backlog":
        print(
            f"{len(arrivals)} deliveries of a backlog with {options.workers} workers: "
            f"{len(arrivals) / (last_arrival - started):.0f} deliveries/s (including the workers' start)",
            flush=True,
        )
        return
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{len(arrivals)} deliveries with {options.workers} workers: "
        f"{len(arrivals) / (last_arrival - first_event):.0f} deliveries/s "
        f"(events written at {len(arrivals) / (produced - started):.0f}/s); "
        f"event-to-delivery latency p50 {quantiles[49] * 1000:.0f} ms, p99 {quantiles[98] * 1000:.0f} ms",
        flush=True,
    )


def recreate_database(database_url: str, database: str) -> None:
    import psycopg

    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


if __name__ == "__main__":
    main()
