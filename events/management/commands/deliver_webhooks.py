"""Send every webhook delivery that is due: first attempts whose task was lost, retries, and
deliveries a worker was killed in the middle of (their lease has ended).

Run it periodically (cron, or `--every SECONDS` as a long-running process next to db_worker).
It is safe alongside workers: each delivery is claimed before it is sent.
"""

import time

from django.core.management.base import BaseCommand

from events.delivery import deliveries_due_run


class Command(BaseCommand):
    help = "Attempt every due webhook delivery (at-least-once backstop for the worker)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (default: run once).")
        parser.add_argument("--limit", type=int, default=500, help="At most this many per run (default 500).")

    def handle(self, *args, every: int, limit: int, **options):
        while True:
            attempted = deliveries_due_run(limit=limit)
            self.stdout.write(f"webhook deliveries attempted: {attempted}")
            if every <= 0:
                return
            time.sleep(every)
