"""Load a custodian's deposit addresses (one per line; blank lines and # comments skipped) into
a manual-custody network's unassigned pool. All or nothing; each address is validated."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chain.errors import InvalidAddressError
from chain.models import Network
from chain.services import deposit_addresses_load


class Command(BaseCommand):
    help = "Load deposit addresses from a custodian's file into a network's pool."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--network", default="bitcoin", help="Network code (default: bitcoin).")

    def handle(self, *args, file: str, network: str, **options):
        found = Network.objects.filter(code=network).first()
        if found is None:
            raise CommandError(f"Unknown network {network!r}.")
        lines = [line.strip() for line in Path(file).read_text().splitlines()]
        addresses = [line for line in lines if line and not line.startswith("#")]
        try:
            added = deposit_addresses_load(network=found, addresses=addresses)
        except InvalidAddressError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(f"added {added} of {len(addresses)} addresses to {found.code}")
