"""One pass of the crypto rails (or one every N seconds): watch deposits on every network,
credit or drop them, send queued withdrawals, track broadcast ones. Safe alongside workers and
other passes: every step is idempotent under row locks."""

import time

from django.core.management.base import BaseCommand

from chain.services import chain_process


class Command(BaseCommand):
    help = "Watch deposits, send and track crypto withdrawals: one pass, or every N seconds."

    def add_arguments(self, parser):
        parser.add_argument("--network", default=None, help="Only this network code.")
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (default: run once).")

    def handle(self, *args, network: str | None, every: int, **options):
        while True:
            counts = chain_process(network_code=network)
            self.stdout.write(" ".join(f"{name}={value}" for name, value in counts.items()))
            if every <= 0:
                return
            time.sleep(every)
