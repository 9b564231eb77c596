"""Compare what our addresses hold on chain with the ledger's custody accounts, per network and
currency; record the run (the dashboard shows the latest) and exit 1 when anything differs."""

import json
import sys

from django.core.management.base import BaseCommand

from chain.services import custody_reconcile


class Command(BaseCommand):
    help = "Reconcile on-chain custody balances with the ledger; exit 1 on any difference."

    def handle(self, *args, **options):
        run = custody_reconcile()
        for line in run.lines:
            self.stdout.write(json.dumps(line, sort_keys=True))
        if run.is_ok:
            self.stdout.write(self.style.SUCCESS("custody reconciled"))
            return
        self.stderr.write(self.style.ERROR("custody differs from the ledger (see the lines above)"))
        sys.exit(1)
