import json

from django.core.management.base import BaseCommand

from accounts.services import api_key_create, client_create


class Command(BaseCommand):
    help = 'Create a client and its first API key; prints {"client_id": ..., "api_key": "..."}.'

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug", default="")

    def handle(self, *args, **options):
        client = client_create(name=options["name"], slug=options["slug"])
        _, plaintext = api_key_create(client=client, name="initial")
        self.stdout.write(json.dumps({"client_id": client.pk, "api_key": plaintext}))
