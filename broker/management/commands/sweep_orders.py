"""Recover orders the queue may have lost: run orders left `submitted` too long, expire orders
past `expires_at`, and re-evaluate resting orders against the current rates.

Run it periodically (cron, or `--every SECONDS` as a long-running process next to db_worker).
It is safe alongside workers: each order is executed under its row lock, at most once.
"""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand

from broker.services import orders_sweep


class Command(BaseCommand):
    help = "Execute stale submitted orders, expire past-expiry orders, re-evaluate resting orders."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after", type=int, default=60, help="Seconds an order may stay submitted (default 60)."
        )
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (default: run once).")

    def handle(self, *args, stale_after: int, every: int, **options):
        while True:
            counts = orders_sweep(stale_after=timedelta(seconds=stale_after))
            self.stdout.write(
                f"stale submitted run: {counts['stale']}, expired checked: {counts['expired']}, "
                f"resting re-evaluated: {counts['evaluated']}"
            )
            if every <= 0:
                return
            time.sleep(every)
