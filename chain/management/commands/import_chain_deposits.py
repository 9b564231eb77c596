"""Import a custodian's deposit report (CSV: network,tx_hash,output_index,address,currency,amount,
confirmations; `amount` in the chain's base units, e.g. satoshi). New deposits are recorded,
known ones get their confirmations updated; the next `chain_process` pass credits them at the
network's threshold. All or nothing."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chain.models import DepositAddress, Network
from chain.services import chain_deposit_import

COLUMNS = ["network", "tx_hash", "output_index", "address", "currency", "amount", "confirmations"]


class Command(BaseCommand):
    help = "Import deposits and confirmations reported by a custodian (CSV)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        with Path(file).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        try:
            with transaction.atomic():
                for number, row in enumerate(rows, start=2):
                    if set(COLUMNS) - set(row):
                        raise CommandError(f"The header must name: {', '.join(COLUMNS)}.")
                    network = Network.objects.filter(code=row["network"]).first()
                    if network is None:
                        raise CommandError(f"line {number}: unknown network {row['network']!r}.")
                    try:
                        chain_deposit_import(
                            network=network, tx_hash=row["tx_hash"].strip(), output_index=int(row["output_index"]),
                            address=row["address"].strip(), currency_code=row["currency"].strip().upper(),
                            chain_amount=int(row["amount"]), confirmations=int(row["confirmations"]),
                        )
                    except ValueError:
                        raise CommandError(f"line {number}: amounts and indexes are whole numbers.") from None
                    except DepositAddress.DoesNotExist:
                        raise CommandError(f"line {number}: {row['address']} is not an assigned address.") from None
        except CommandError:
            raise
        self.stdout.write(f"imported {len(rows)} deposit lines")
