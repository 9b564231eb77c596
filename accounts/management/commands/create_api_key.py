import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Client
from accounts.services import api_key_create


class Command(BaseCommand):
    help = 'Issue another API key for a client; prints {"client_id": ..., "api_key": "..."}.'

    def add_arguments(self, parser):
        parser.add_argument("client_id", type=int)
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        client = Client.objects.filter(pk=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client with id {options['client_id']}.")
        _, plaintext = api_key_create(client=client, name=options["name"])
        self.stdout.write(json.dumps({"client_id": client.pk, "api_key": plaintext}))
