"""The SQL ceiling both transfer benchmarks compare against: pgbench running, at the same
concurrency, exactly the writes `entry_post` makes for a transfer (two guarded balance UPDATEs in
primary-key order, one journal entry INSERT, one two-row posting INSERT; the deferred zero-sum
trigger fires for both) against the benchmark's own tables and accounts.

The accounts must be a contiguous id range of user accounts of one client.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

PGBENCH_SCRIPT = r"""
\set a random(:first, :last)
\set offset random(1, :last - :first)
\set b :first + (:a - :first + :offset) % (:last - :first + 1)
\if :hot
\set a :first
\set b random(:first + 1, :last)
\endif
\set amount random(1, 1000)
\set direction random(0, 1)
\if :direction
\set source :a
\set destination :b
\else
\set source :b
\set destination :a
\endif
BEGIN;
\if :source < :destination
UPDATE ledger_account SET balance = balance - :amount, held = held - 0, sequence = sequence + 1
  WHERE id = :source AND is_active AND balance - held >= :amount
  RETURNING balance AS source_balance, held AS source_held, sequence AS source_sequence \gset
UPDATE ledger_account SET balance = balance + :amount, held = held - 0, sequence = sequence + 1
  WHERE id = :destination AND is_active AND balance <= 9223372036854775807 - :amount
  RETURNING balance AS destination_balance, held AS destination_held, sequence AS destination_sequence \gset
\else
UPDATE ledger_account SET balance = balance + :amount, held = held - 0, sequence = sequence + 1
  WHERE id = :destination AND is_active AND balance <= 9223372036854775807 - :amount
  RETURNING balance AS destination_balance, held AS destination_held, sequence AS destination_sequence \gset
UPDATE ledger_account SET balance = balance - :amount, held = held - 0, sequence = sequence + 1
  WHERE id = :source AND is_active AND balance - held >= :amount
  RETURNING balance AS source_balance, held AS source_held, sequence AS source_sequence \gset
\endif
INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, created_at)
  VALUES (:client, 'transfer', '', '{}', now()) RETURNING id AS entry \gset
INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at)
  VALUES (:entry, :source, -:amount, :source_sequence, :source_balance, :source_held, now()),
         (:entry, :destination, :amount, :destination_sequence, :destination_balance, :destination_held, now());
END;
"""


def pgbench_transfers_per_second(
    *, database_url: str, clients: int, seconds: float, client_id: int, first_account: int, last_account: int,
    hot: bool = False,
) -> float:
    """Run the transfer script for `seconds` with `clients` connections; return transactions/s."""
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    url = urlparse(database_url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    try:
        completed = subprocess.run(
            [
                pgbench, "--no-vacuum", "--client", str(clients), "--jobs", str(clients),
                "--time", str(max(1, round(seconds))), "--file", script.name,
                "--define", f"first={first_account}", "--define", f"last={last_account}",
                "--define", f"client={client_id}", "--define", f"hot={1 if hot else 0}",
                "--host", url.hostname or "127.0.0.1", "--port", str(url.port or 5432),
                "--username", url.username or "postgres", url.path.lstrip("/"),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PGPASSWORD": url.password or ""},
        )
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", completed.stdout)
    if not match:
        sys.exit(f"could not read pgbench's result:\n{completed.stdout}\n{completed.stderr}")
    return float(match.group(1))
