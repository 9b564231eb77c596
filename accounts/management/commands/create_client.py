import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.services import api_key_create, client_create
from core.errors import DomainError


class Command(BaseCommand):
    help = 'Create a client and its first API key; prints {"client_id": ..., "api_key": "..."}.'

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug", default="")

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                client = client_create(name=options["name"], slug=options["slug"])
                _, plaintext = api_key_create(client=client, name="initial")
        except DomainError as error:
            raise CommandError(f"{error.detail} (choose another name, or --slug)") from None
        self.stdout.write(json.dumps({"client_id": client.pk, "api_key": plaintext}))
