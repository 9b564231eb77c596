"""Demo data for `make run`, safe to run any number of times.

Creates (once) an admin login, demo rates for every currency that has none, a demo client with
two funded end users, and on every run issues
a fresh demo API key (revoking the previous demo key), since a key's plaintext cannot be shown
twice. Refuses to run with DEBUG off: the admin password is public.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ApiKey, Client, User
from accounts.services import api_key_create, api_key_revoke, client_create
from broker.models import Rate, RateHistory
from broker.services import rate_update
from ledger.models import Currency
from ledger.services import account_create, currency_authorization_grant, deposit_create

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - development-only demo login, refused when DEBUG is off
DEMO_KEY_NAME = "demo (make run)"
# USD per whole unit, as price_e8 (× 10**8). Set only where no rate exists, so re-running the
# command never undoes a rate an operator changed.
DEMO_RATES = {
    "BTC": 65_000 * 10**8,
    "ETH": 3_200 * 10**8,
    "BNB": 580 * 10**8,
    "DOGE": 15_000_000,  # 0.15
    "MATIC": 70_000_000,  # 0.70
    "USDT": 100_000_000,  # 1.00
    "EUR": 108_000_000,  # 1.08
    "MXN": 5_800_000,  # 0.058
}
DEMO_USERS = [
    ("alice", "alice@example.com", "Alice Example", {"USD": 1_000_000, "BTC": 50_000_000}),
    ("bob", "bob@example.com", "Bob Example", {"USD": 250_000, "BTC": 0}),
]


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo admin login and a fresh demo API key."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print only the credentials as JSON.")
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the server listens, for the printed links."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates a public admin password; it runs only with DEBUG on.")
        with transaction.atomic():
            self._admin()
            self._rates()
            client = Client.objects.filter(slug="demo").first() or client_create(name="Demo Fintech", slug="demo")
            for external_id, email, name, deposits in DEMO_USERS:
                self._user(client, external_id, email, name, deposits)
            for old_key in ApiKey.objects.filter(client=client, name=DEMO_KEY_NAME, revoked_at__isnull=True):
                api_key_revoke(key=old_key)
            _, plaintext = api_key_create(client=client, name=DEMO_KEY_NAME)
        credentials = {"admin_username": ADMIN_USERNAME, "admin_password": ADMIN_PASSWORD,
                       "client_id": client.pk, "api_key": plaintext}
        if options["json"]:
            self.stdout.write(json.dumps(credentials))
            return
        base = options["base_url"].rstrip("/")
        self.stdout.write(
            "\nDemo data ready.\n"
            f"  Admin:        {base}/admin/  (user {ADMIN_USERNAME!r}, password {ADMIN_PASSWORD!r})\n"
            f"  Demo client:  id {client.pk}\n"
            f"  API key:      {plaintext}\n"
            f"  Try:          curl -H 'Authorization: Api-Key {plaintext}' {base}/api/v1/users/\n"
        )

    def _admin(self) -> None:
        if not User.objects.filter(username=ADMIN_USERNAME).exists():
            User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)

    def _rates(self) -> None:
        existing = set(Rate.objects.values_list("currency_id", flat=True))
        for code, price_e8 in DEMO_RATES.items():
            if code not in existing and Currency.objects.filter(code=code, is_active=True).exists():
                rate_update(currency=code, price_e8=price_e8, source=RateHistory.Source.DEMO)

    def _user(self, client: Client, external_id: str, email: str, name: str, deposits: dict[str, int]) -> None:
        if User.objects.filter(client=client, external_id=external_id).exists():
            return
        user = User.objects.create(
            username=f"{client.slug}-{external_id}", client=client, external_id=external_id, email=email, name=name
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        for code, amount in deposits.items():
            currency = Currency.objects.get(code=code)
            currency_authorization_grant(user=user, currency=currency)
            account = account_create(user=user, currency=currency)
            if amount:
                deposit_create(account=account, amount=amount, reference="demo funding")
